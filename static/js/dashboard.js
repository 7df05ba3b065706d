// Dashboard charts: axis labels and hover titles in the reader's time zone, or in UTC when the top
// bar's toggle says so. The server writes them in UTC, which is what shows without JavaScript.
(function () {
  "use strict";

  const FORMATS = {
    time: { hour: "2-digit", minute: "2-digit", hour12: false },
    date: { month: "short", day: "2-digit" },
    datetime: { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false },
  };
  const useUtc = () => localStorage.getItem("msgtrace.utc") === "1";

  function format(iso, kind) {
    const options = Object.assign({}, FORMATS[kind] || FORMATS.datetime);
    if (useUtc()) options.timeZone = "UTC";
    const text = new Date(iso).toLocaleString(undefined, options);
    return kind === "datetime" && useUtc() ? text + " UTC" : text;
  }

  function localize(root) {
    (root || document).querySelectorAll(".chart [data-time]").forEach((el) => {
      if (el.tagName.toLowerCase() === "title") {
        el.textContent = format(el.dataset.time, "datetime") + " · " + el.dataset.detail;
      } else {
        el.textContent = format(el.dataset.time, el.dataset.format);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => localize());
  document.addEventListener("htmx:afterSettle", (event) => localize(event.target));
  // msgtrace.js flips the setting on the same click, and its listener runs first.
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-utc-toggle]")) localize();
  });
})();
