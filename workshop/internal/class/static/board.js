// The board refreshes itself: the server says "changed" on /events (server-
// sent events) and the page fetches its own table again. No build step, no
// library. Without JavaScript the page reloads every 10 s instead.
(() => {
  "use strict";
  if (!document.getElementById("board") || !window.EventSource) return;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set("fragment", "1");
      const resp = await fetch(url, { cache: "no-store" });
      if (!resp.ok) return;
      const tmpl = document.createElement("template");
      tmpl.innerHTML = (await resp.text()).trim();
      const fresh = tmpl.content.firstElementChild;
      const current = document.getElementById("board");
      if (fresh && current) current.replaceWith(fresh);
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
    } catch (e) {
      // the server is restarting or the wifi dropped: the next event or tick retries
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  const events = new EventSource("/events");
  events.addEventListener("changed", refresh);
  // The times on steps move on without any event.
  setInterval(refresh, 30000);
})();
