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

// Title suggestions as you type: the search form works without them (it is a plain GET form);
// with them, matching titles appear under the field as links to their pages. They come from
// the JSON API without a user, so typing costs no personalized ranking call.
var SUGGESTION_DELAY_MS = 150;
var SUGGESTION_COUNT = 8;

function suggestionLink(input, item) {
  var params = new URLSearchParams({ item_id: item.item_id });
  var userId = input.getAttribute("data-user-id");
  if (userId) params.set("user_id", userId);
  var link = document.createElement("a");
  link.href = input.getAttribute("data-movie-url") + "?" + params.toString();
  link.textContent = item.year ? item.title + " (" + item.year + ")" : item.title;
  return link;
}

function showSuggestions(input, list, items) {
  list.replaceChildren();
  items.forEach(function (item) {
    var entry = document.createElement("li");
    entry.appendChild(suggestionLink(input, item));
    list.appendChild(entry);
  });
  list.hidden = items.length === 0;
  input.setAttribute("aria-expanded", String(items.length > 0));
}

function enableSuggestions(input) {
  var list = input.form.querySelector(".suggestions");
  if (!list) return;
  var timer = null;
  var asked = 0;
  input.setAttribute("aria-expanded", "false");
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var query = input.value.trim();
    if (query.length < 2) { showSuggestions(input, list, []); return; }
    timer = setTimeout(function () {
      var ticket = ++asked;
      var url = input.getAttribute("data-suggest") + "?" +
        new URLSearchParams({ q: query, n: String(SUGGESTION_COUNT) }).toString();
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { items: [] }; })
        .then(function (body) { if (ticket === asked) showSuggestions(input, list, body.items); })
        .catch(function () { showSuggestions(input, list, []); });
    }, SUGGESTION_DELAY_MS);
  });
  // Down arrow into the list, up and down within it, Escape closes it.
  input.form.addEventListener("keydown", function (event) {
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    var at = links.indexOf(document.activeElement);
    if (event.key === "Escape") { showSuggestions(input, list, []); input.focus(); return; }
    if (list.hidden || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
    event.preventDefault();
    var next = event.key === "ArrowDown" ? at + 1 : at - 1;
    if (next < 0) input.focus(); else if (next < links.length) links[next].focus();
  });
  document.addEventListener("click", function (event) {
    if (!input.form.contains(event.target)) showSuggestions(input, list, []);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".poster img").forEach(function (img) {
    img.addEventListener("error", function () { usePlaceholder(img); });
    if (img.complete && img.naturalWidth === 0) usePlaceholder(img);
  });
  document.querySelectorAll("input[data-suggest]").forEach(enableSuggestions);
});
