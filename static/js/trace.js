// The trace page: open and close subtrees (fetching those the server left closed), the span panel's
// close and focus, arrow keys on the selected row, and zooming the flame graph. The page reads and links
// fine without it.
(function () {
  "use strict";

  // Going back or forward reloads the page: it keeps no htmx history snapshot (see trace_detail.html).
  if (window.htmx) htmx.config.refreshOnHistoryMiss = true;

  const depth = (row) => Number(row.dataset.depth);

  // Shows or hides the rows below `row` that are deeper than it, leaving closed subtrees closed.
  function showDescendants(row, show) {
    const base = depth(row);
    let hiddenBelow = Infinity; // inside a closed subtree: rows deeper than this stay hidden
    for (let next = row.nextElementSibling; next && depth(next) > base; next = next.nextElementSibling) {
      const d = depth(next);
      if (d <= hiddenBelow) hiddenBelow = Infinity;
      next.hidden = !show || d > hiddenBelow;
      const toggle = next.querySelector(":scope > .nm > .tg[aria-expanded]");
      if (show && toggle && toggle.getAttribute("aria-expanded") === "false" && hiddenBelow === Infinity) hiddenBelow = d;
    }
  }

  function loadChildren(row, toggle) {
    const url = toggle.dataset.load;
    toggle.removeAttribute("data-load");
    toggle.setAttribute("aria-busy", "true");
    const done = () => {
      toggle.removeAttribute("aria-busy");
      const next = row.nextElementSibling;
      if (next && depth(next) > depth(row)) {
        toggle.setAttribute("aria-expanded", "true");
        row.querySelector(".hidden-count")?.remove();
      } else {
        toggle.dataset.load = url; // failed: the next click tries again
      }
    };
    htmx.ajax("GET", url, { target: row, swap: "afterend" }).then(done, done);
  }

  function toggleRow(row, open) {
    const toggle = row.querySelector(":scope > .nm > .tg[aria-expanded]");
    if (!toggle) return;
    const expanded = toggle.getAttribute("aria-expanded") === "true";
    if (open === undefined) open = !expanded;
    if (open === expanded || toggle.getAttribute("aria-busy")) return;
    if (open && toggle.dataset.load) return loadChildren(row, toggle);
    toggle.setAttribute("aria-expanded", String(open));
    showDescendants(row, open);
  }

  function setAll(container, open) {
    const rows = Array.from(container.querySelectorAll(".row"));
    rows.forEach((row) => {
      const toggle = row.querySelector(":scope > .nm > .tg[aria-expanded]");
      if (toggle && !toggle.dataset.load) toggle.setAttribute("aria-expanded", String(open));
      row.hidden = !open && depth(row) > depth(rows[0]);
    });
    if (open) rows.filter((row) => depth(row) === depth(rows[0])).forEach((row) => showDescendants(row, true));
  }

  // --- span panel ----------------------------------------------------------------------------
  const panel = () => document.getElementById("span-panel");
  let opener = null; // the link that opened the panel, to give focus back on close

  function markCurrent() {
    document.querySelectorAll(".spans .row.is-current").forEach((row) => row.classList.remove("is-current"));
    const article = panel()?.querySelector("[data-span-id]");
    if (!article) return;
    document.getElementById("s-" + article.dataset.spanId)?.classList.add("is-current");
  }

  function closePanel(link) {
    panel().replaceChildren();
    markCurrent();
    // Restore the trace's URL; {htmx: true} lets htmx reload the span's URL if the reader goes back.
    history.pushState({ htmx: true }, "", link.getAttribute("href"));
    if (opener && document.body.contains(opener)) opener.focus();
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const toggle = target.closest(".spans .tg[aria-expanded]");
    if (toggle) { toggleRow(toggle.closest(".row"), undefined); return; }
    const all = target.closest("[data-collapse-all], [data-expand-all]");
    if (all) {
      const body = document.querySelector("#trace-view .spans .body");
      if (body) setAll(body, all.matches("[data-expand-all]"));
      return;
    }
    // A box of the flame graph zooms into its span and opens it in the panel; its link (the span's
    // page, zoomed) is what the address bar then shows, and what a new tab or no JavaScript loads.
    const box = target.closest(".flame a[data-zoom]");
    if (box && !event.metaKey && !event.ctrlKey && !event.shiftKey && window.htmx) {
      event.preventDefault();
      opener = null;
      htmx.ajax("GET", box.dataset.zoom, { target: "#trace-view", swap: "outerHTML" })
        .then(() => history.pushState({ htmx: true }, "", box.getAttribute("href")));
      htmx.ajax("GET", box.dataset.panel, { target: "#span-panel", swap: "innerHTML" });
      return;
    }
    // A click on a bar opens its span, like a click on its name.
    const lane = target.closest(".spans .ln");
    if (lane) { lane.parentElement.querySelector("a[data-nav-open]")?.click(); return; }
    const close = target.closest("#span-panel a.close");
    if (close && !event.metaKey && !event.ctrlKey && !event.shiftKey) {
      event.preventDefault();
      closePanel(close);
      return;
    }
    const open = target.closest("a[hx-get]");
    if (open && open.closest(".spans, .errors")) opener = open;
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target.id === "span-panel") {
      markCurrent();
      panel().querySelector("h2")?.focus({ preventScroll: true });
      panel().scrollTop = 0;
    } else if (event.target.id === "trace-view") {
      markCurrent();
    }
  });

  // ArrowRight / ArrowLeft open and close the selected row (selected with j/k, see msgtrace.js).
  document.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    const row = document.activeElement?.closest(".spans .row") || document.querySelector(".spans .row.is-selected");
    if (!row) return;
    event.preventDefault();
    toggleRow(row, event.key === "ArrowRight");
  });

  // Opened at a span's URL: show that span's row, if the page drew it.
  document.addEventListener("DOMContentLoaded", () => {
    markCurrent();
    document.querySelector(".spans .row.is-current")?.scrollIntoView({ block: "nearest" });
  });
})();
