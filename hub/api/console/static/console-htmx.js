/* The console's use of htmx (static/htmx/, vendored by deploy/vendor-htmx.sh): a form marked
   with hx-post sends itself in the background and the hub answers with just the part of the
   page that changes (a fragment, marked by the X-Console-Fragment header), which replaces the
   part named by hx-target. Progressive enhancement: every such form is an ordinary form and
   works the same without JavaScript. Nothing here is inline (the Content-Security-Policy allows
   the hub's own script files only) and htmx is configured with no eval (base.html). */
(function () {
  "use strict";
  if (typeof htmx === "undefined") {
    return;
  }

  function sendTheOrdinaryWay(form) {
    // A refusal (signed out, another role, a stale form) answers with a whole page and changes
    // nothing: send the form as a browser would without JavaScript, so that page is shown.
    if (form && form.tagName === "FORM") {
      form.removeAttribute("hx-post");
      form.submit();
    }
  }

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var fragment = event.detail.xhr.getResponseHeader("X-Console-Fragment") === "1";
    if (fragment) {
      // A fragment names what was wrong too (400, 404, 409): show it as the full page would.
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else {
      event.detail.shouldSwap = false;
      sendTheOrdinaryWay(event.detail.elt);
    }
  });

  document.body.addEventListener("htmx:sendError", function (event) {
    sendTheOrdinaryWay(event.detail.elt);
  });

  // Focus moves to what the update says (a heading or a notice marked data-focus-after-swap),
  // since the button that was pressed may be gone.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var scope = target && target.isConnected ? target : document;
    var focus = scope.querySelector("[data-focus-after-swap]")
      || document.querySelector("[data-focus-after-swap]");
    if (focus) {
      focus.focus();
    }
  });
})();
