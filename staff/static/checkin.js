// Check-in list: refresh the people as the organiser types in the search box.
// Progressive enhancement only: without JavaScript the search form is a plain GET.
"use strict";
(function () {
  const form = document.getElementById("checkin-search");
  const input = document.getElementById("q");
  const people = document.getElementById("people");
  if (!form || !input || !people || !window.fetch || !window.DOMParser) return;

  let timer = 0;
  let pending = null;

  async function refresh() {
    const url = new URL(form.action, window.location.href);
    const query = input.value.trim();
    if (query) url.searchParams.set("q", query);
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const answer = await fetch(url, { signal: pending.signal, credentials: "same-origin" });
      if (!answer.ok || answer.redirected) return; // signed out: the form still works
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("people");
      if (!fresh) return;
      people.replaceChildren(...fresh.childNodes);
      window.history.replaceState(null, "", url.pathname + url.search);
    } catch (error) {
      if (error.name !== "AbortError") people.setAttribute("data-stale", "true");
    }
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  });
})();
