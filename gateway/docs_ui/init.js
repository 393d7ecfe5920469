// Starts Swagger UI on the gateway's own OpenAPI document. A file of its own, not an inline
// script, so the page keeps the console's Content-Security-Policy (script-src 'self').
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
