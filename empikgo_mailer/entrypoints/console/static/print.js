// The slip's "Drukuj" button opens the browser's print dialog (an external file: the
// Content-Security-Policy allows no inline script). Without JavaScript, Ctrl+P does it.
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.closest("[data-print]")) { window.print(); }
});
