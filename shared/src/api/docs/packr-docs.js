// Starts Swagger UI on the served document. An external file: the page's
// Content-Security-Policy allows scripts from 'self' only, nothing inline.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    displayOperationId: true,
    deepLinking: false,
    // No schema check by a third-party validator: the page talks to its own origin only.
    validatorUrl: null,
  });
});
