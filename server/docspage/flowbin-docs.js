// Starts Swagger UI on /docs. It is a file of its own, not an inline script, so that the page's
// Content-Security-Policy can refuse every inline script. The server writes the settings into data attributes.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: new URL(root.dataset.specUrl, window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    defaultModelsExpandDepth: -1,
    layout: "StandaloneLayout",
    persistAuthorization: root.dataset.persistAuthorization === "true",
    tryItOutEnabled: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [
      SwaggerUIBundle.plugins.DownloadUrl,
      function () { return { components: { Topbar: function () { return null; } } }; }
    ]
  });
})();
