"""Schools, the families they know, and parents joining a school themselves (issue 5)."""
