// Swagger UI on the factory's own OpenAPI document; "Authorize" takes an operator key for "Try it out".
// eslint-disable-next-line no-undef
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No call to the public validator service: everything stays on this server.
  validatorUrl: null,
  persistAuthorization: false,
});
