// The CLI talks to the server through the typed client (src/client); `ClientError` is its error class under the name the CLI's commands use.
export { FactoryClient, FactoryClientError as ClientError } from "../client/index.ts";
