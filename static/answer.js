// Focus the answer to the last POST (a saved, refused or please-confirm message marked
// data-answer), so keyboard and screen reader users land on it; the anchor in the URL or the
// form's action has already scrolled it into view. Without JavaScript, autofocus does this.
(function () {
  const answer = document.querySelector("[data-answer]");
  if (answer) answer.focus();
})();
