"""The ateliers e-parentalité: workshops as organisers describe them (records), CSV import and
export, their storage, and the demo data of `make run`. Enrolment, waiting list, reminders and
check-in build on these (issue 4)."""
