// A "Drukuj" button (data-print) opens the browser's print dialog; the page's print style
// leaves out the navigation and the buttons.
(function () {
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });
})();
