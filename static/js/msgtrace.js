// msgtrace page behaviour: times in the reader's time zone, keyboard shortcuts, HTMX feedback.
// Everything here improves pages that already work without it.
(function () {
  "use strict";

  const UTC_KEY = "msgtrace.utc";
  const useUtc = () => localStorage.getItem(UTC_KEY) === "1";

  function formatAbsolute(date) {
    const options = { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
                      second: "2-digit", hour12: false };
    if (useUtc()) options.timeZone = "UTC";
    return date.toLocaleString(undefined, options) + (useUtc() ? " UTC" : "");
  }

  function formatRelative(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    const future = seconds < 0;
    const s = Math.abs(seconds);
    let text;
    if (s < 5) return "just now";
    if (s < 60) text = s + " s";
    else if (s < 3600) text = Math.floor(s / 60) + " min";
    else if (s < 86400) text = Math.floor(s / 3600) + " h";
    else if (s < 86400 * 30) text = Math.floor(s / 86400) + " d";
    else return formatAbsolute(date);
    return future ? "in " + text : text + " ago";
  }

  function renderTimes(root) {
    (root || document).querySelectorAll("time[data-moment]").forEach((el) => {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      const absolute = formatAbsolute(date);
      if (el.dataset.moment === "relative") {
        el.textContent = formatRelative(date);
        el.title = absolute;
      } else {
        el.textContent = absolute;
      }
    });
    const toggle = document.querySelector("[data-utc-toggle]");
    if (toggle) toggle.textContent = useUtc() ? "UTC" : "Local time";
  }

  function showToast(message) {
    const toast = document.getElementById("toast");
    if (!toast) return;
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(showToast.timer);
    showToast.timer = setTimeout(() => { toast.hidden = true; }, 6000);
  }

  // --- keyboard ---------------------------------------------------------------------------
  function typing(event) {
    const el = event.target;
    return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  }

  function navItems() {
    return Array.from(document.querySelectorAll("[data-nav-list] [data-nav-item]"))
      .filter((el) => el.offsetParent !== null);
  }

  function move(step) {
    const items = navItems();
    if (!items.length) return;
    let index = items.findIndex((el) => el.classList.contains("is-selected"));
    if (index >= 0) items[index].classList.remove("is-selected");
    index = index < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, index + step));
    const item = items[index];
    item.classList.add("is-selected");
    item.setAttribute("aria-selected", "true");
    items.forEach((el) => { if (el !== item) el.removeAttribute("aria-selected"); });
    item.scrollIntoView({ block: "nearest" });
  }

  function openSelected() {
    const item = document.querySelector("[data-nav-list] [data-nav-item].is-selected");
    if (!item) return false;
    const link = item.querySelector("[data-nav-open]") || item.querySelector("a[href]");
    if (link) link.click();
    return Boolean(link);
  }

  function closeTopmost() {
    const dialog = document.querySelector("dialog[open]");
    if (dialog) { dialog.close(); return true; }
    const closer = document.querySelector("[data-close-on-escape]");
    if (closer) { closer.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", (event) => {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === "Escape") {
      if (closeTopmost()) event.preventDefault();
      else if (typing(event)) event.target.blur();
      return;
    }
    if (typing(event)) return;
    const search = document.getElementById("search") || document.getElementById("global-search");
    switch (event.key) {
      case "/": if (search) { event.preventDefault(); search.focus(); search.select(); } break;
      case "j": event.preventDefault(); move(1); break;
      case "k": event.preventDefault(); move(-1); break;
      case "Enter": if (openSelected()) event.preventDefault(); break;
      case "?": event.preventDefault(); document.getElementById("keys-dialog").showModal(); break;
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-utc-toggle], [data-keys-help], [data-copy]");
    if (!target) return;
    if (target.matches("[data-utc-toggle]")) {
      localStorage.setItem(UTC_KEY, useUtc() ? "0" : "1");
      renderTimes();
    } else if (target.matches("[data-keys-help]")) {
      document.getElementById("keys-dialog").showModal();
    } else if (target.matches("[data-copy]")) {
      navigator.clipboard.writeText(target.dataset.copy).then(
        () => showToast("Copied " + target.dataset.copy),
        () => showToast("Copy failed: select the text instead"));
    }
  });

  // --- HTMX feedback ---------------------------------------------------------------------
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    showToast("The request failed (" + xhr.status + " " + (xhr.statusText || "error") + "). Try again.");
  });
  document.addEventListener("htmx:sendError", () => {
    showToast("msgtrace did not answer: is the server running?");
  });
  document.addEventListener("htmx:afterSettle", (event) => renderTimes(event.target));

  // --- comparing two traces: the list's Compare button shows once exactly two rows are checked ----------
  function showCompare() {
    const action = document.querySelector("[data-compare-action]");
    if (action) action.hidden = document.querySelectorAll("[data-compare-pick]:checked").length !== 2;
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-compare-pick]")) showCompare();
  });
  document.addEventListener("htmx:afterSettle", showCompare);
  document.addEventListener("DOMContentLoaded", showCompare);

  document.addEventListener("DOMContentLoaded", () => renderTimes());
  setInterval(() => renderTimes(), 30000);
  window.msgtrace = { renderTimes, showToast };
})();
