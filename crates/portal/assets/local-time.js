// Shows the portal's times in the browser's own time zone: every <time datetime="...Z">
// made by pages::when reads in UTC without script; here it is rewritten with the
// visitor's locale and zone (its title keeps the UTC text). Progressive enhancement: the
// pages need none of it.
"use strict";

(function () {
  const styles = {
    datetime: {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    },
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" },
  };
  function localise(root) {
    for (const el of root.querySelectorAll("time[datetime]")) {
      const at = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) continue;
      const style = styles[el.dataset.style] || styles.datetime;
      el.textContent = new Intl.DateTimeFormat(undefined, style).format(at);
      el.dataset.local = "true";
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => localise(document));
  } else {
    localise(document);
  }
})();
