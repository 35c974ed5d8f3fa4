// Starts Swagger UI on /docs (hub.api.api_docs). A file, not an inline script, so that the page's
// Content-Security-Policy allows scripts from the hub only. The page says where the OpenAPI
// document and the OAuth redirect page are, in data attributes of #swagger-ui.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    oauth2RedirectUrl: window.location.origin + root.dataset.oauth2RedirectUrl,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
