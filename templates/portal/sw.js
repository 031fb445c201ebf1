// The guest portal's service worker (RA-GUEST-001 §8.3): the page needs a connection, but a copy of the
// static content (house rules, nearby places, contacts) is kept for reading without one.
const PAGE = new URL("{{ base|escapejs }}", self.location).href;
const OFFLINE = PAGE + "/offline";
const CACHE = "portal-offline";
const REFRESH_MS = 3600e3;  // at most once an hour: the content rarely changes and each fetch counts against the rate limit

function save() {
  return caches.open(CACHE).then(function (cache) { return cache.add(OFFLINE); });
}

function refresh() {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(OFFLINE).then(function (old) {
      const age = old ? Date.now() - Date.parse(old.headers.get("Date")) : Infinity;
      return age > REFRESH_MS || isNaN(age) ? cache.add(OFFLINE) : null;
    });
  }).catch(function () {});
}

self.addEventListener("install", function (event) {
  event.waitUntil(save().catch(function () {}));
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET" || request.mode !== "navigate") return;
  event.respondWith(
    fetch(request).then(function (response) {
      if (response.ok && request.url.split("#")[0] === PAGE) event.waitUntil(refresh());
      return response;
    }).catch(function () {
      return caches.match(OFFLINE).then(function (copy) { return copy || Response.error(); });
    })
  );
});
