// Progressive enhancements only: every page works without this file.
"use strict";

// A poster that fails to load (offline, or a dead URL) becomes the local placeholder,
// with the title shown over it, instead of a broken image.
function usePlaceholder(img) {
  var fallback = img.getAttribute("data-fallback");
  if (!fallback || img.src.endsWith(fallback)) return;
  img.src = fallback;
  img.alt = "";
  img.parentElement.classList.add("is-placeholder");
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".poster img").forEach(function (img) {
    img.addEventListener("error", function () { usePlaceholder(img); });
    if (img.complete && img.naturalWidth === 0) usePlaceholder(img);
  });
});
