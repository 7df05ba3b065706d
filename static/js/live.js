// Live pages: each poll (an element with data-live-etag) asks for its fragment every few seconds with
// If-None-Match, so that an unchanged store answers 304 and nothing is swapped. A paused page (the
// choice is remembered) or a page in a background tab does not ask at all.
(function () {
  "use strict";

  const KEY = "msgtrace.live";
  const paused = () => localStorage.getItem(KEY) === "paused";
  const polls = () => document.querySelectorAll("[data-live-etag]");
  const seenAt = new WeakMap(); // when each indicator was drawn: its quiet time counts on from there

  document.addEventListener("htmx:configRequest", (event) => {
    const tag = event.detail.elt.dataset && event.detail.elt.dataset.liveEtag;
    if (tag) event.detail.headers["If-None-Match"] = tag;
  });
  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (elt.dataset && elt.dataset.liveEtag !== undefined && (paused() || document.visibilityState === "hidden")) {
      event.preventDefault();
    }
  });
  // 304: what the page shows is current. htmx would swap in the empty body. Otherwise, when the answer
  // redraws the rows (a trace page's spans), the row selected with j/k stays selected.
  // Subtrees the reader opened or closed stay so (trace.js opens and closes them on a click).
  let selected = null;
  let expanded = null; // row id -> aria-expanded of its toggle, in page order
  const toggleOf = (row) => row.querySelector(":scope > .nm > .tg[aria-expanded]");
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.xhr.status === 304) { event.detail.shouldSwap = false; return; }
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!elt || !elt.dataset || elt.dataset.liveEtag === undefined) return;
    selected = document.querySelector("[data-nav-list] [data-nav-item].is-selected")?.id || null;
    expanded = new Map();
    document.querySelectorAll("#trace-view .spans .row[id]").forEach((row) => {
      const toggle = toggleOf(row);
      if (toggle) expanded.set(row.id, toggle.getAttribute("aria-expanded"));
    });
  });
  document.addEventListener("htmx:afterSettle", () => {
    const row = selected && document.getElementById(selected);
    selected = null;
    if (row && !row.classList.contains("is-selected")) {
      row.classList.add("is-selected");
      row.setAttribute("aria-selected", "true");
    }
    const states = expanded;
    expanded = null;
    if (!states) return;
    states.forEach((state, id) => {
      const toggle = document.getElementById(id) && toggleOf(document.getElementById(id));
      if (toggle && toggle.getAttribute("aria-expanded") !== state) toggle.click();
    });
  });

  function label(bar) {
    if (paused()) return "Paused";
    if (bar.dataset.quietSeconds === undefined) return "Live";
    if (!seenAt.has(bar)) seenAt.set(bar, Date.now());
    const quiet = Number(bar.dataset.quietSeconds) + (Date.now() - seenAt.get(bar)) / 1000;
    if (bar.dataset.hasRoot === undefined) return "Live · waiting for the root span";
    return quiet >= Number(bar.dataset.completeAfter) ? "Looks complete" : "Live · receiving spans";
  }

  function render() {
    document.querySelectorAll(".live-bar").forEach((bar) => {
      const text = label(bar);
      const target = bar.querySelector("[data-live-label]");
      if (target && target.textContent !== text) target.textContent = text;
      bar.classList.toggle("is-paused", paused());
      bar.classList.toggle("is-complete", text === "Looks complete");
    });
    document.querySelectorAll("[data-live-toggle]").forEach((button) => {
      button.textContent = paused() ? "Resume" : "Pause";
      button.setAttribute("aria-pressed", String(paused()));
      button.title = paused() ? "Follow new data again" : "Stop following new data on live pages";
    });
  }

  const askNow = () => polls().forEach((poll) => htmx.trigger(poll, "live-now"));

  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-live-toggle]")) return;
    if (paused()) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, "paused");
    render();
    if (!paused()) askNow();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !paused()) askNow();
  });
  document.addEventListener("htmx:afterSettle", render);
  document.addEventListener("DOMContentLoaded", render);
  setInterval(render, 1000);
})();
