import { generationRoute } from "../shared/generation-route.js";
import { CompletionBody, completionResponseShape } from "./protocol.js";

export const completionsRoute = generationRoute<CompletionBody>(
  "/v1/completions",
  CompletionBody,
  (body) => ({ kind: "text", text: body.prompt }),
  completionResponseShape,
);
