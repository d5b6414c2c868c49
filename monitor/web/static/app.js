// The review queue's keyboard: j/k move, c confirm, d dismiss, n note (Esc back to the list).
// Loaded as a file (the Content-Security-Policy allows no inline script); htmx submits the
// forms and swaps the reviewed flag in place, and every htmx request carries the CSRF token.
(function () {
  "use strict";

  var current = 0;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function flags() {
    return Array.prototype.slice.call(document.querySelectorAll(".queue .flag"));
  }

  function select(index) {
    var all = flags();
    if (all.length === 0) {
      return;
    }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (flag, n) {
      flag.classList.toggle("selected", n === current);
      if (n === current) {
        flag.setAttribute("aria-current", "true");
      } else {
        flag.removeAttribute("aria-current");
      }
    });
    all[current].scrollIntoView({ block: "nearest" });
  }

  function selected() {
    return flags()[current] || null;
  }

  function review(action) {
    var flag = selected();
    var button = flag && flag.querySelector('button[value="' + action + '"]');
    if (button) {
      button.click();
    }
  }

  function note() {
    var flag = selected();
    var field = flag && flag.querySelector("textarea[name=note]");
    if (field) {
      field.focus();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (!document.querySelector(".queue")) {
      return;
    }
    var target = event.target;
    if (target.matches && target.matches("input, textarea, select")) {
      if (event.key === "Escape") {
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var keys = {
      j: function () { select(current + 1); },
      k: function () { select(current - 1); },
      c: function () { review("confirm"); },
      d: function () { review("dismiss"); },
      n: note
    };
    var handler = keys[event.key];
    if (handler) {
      event.preventDefault();
      handler();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A reviewed flag comes back in place: move on to the next one.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.classList && event.target.classList.contains("flag")) {
      select(current + 1);
    } else {
      select(current);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    select(0);
  });
})();
