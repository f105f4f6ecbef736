import { generationRoute } from "../shared/generation-route.js";
import { logprobsOption, type GenerationEndpoint } from "../shared/endpoint.js";
import { CompletionBody, completionResponseShape } from "./protocol.js";

export const completionsEndpoint: GenerationEndpoint<CompletionBody> = {
  path: "/v1/completions",
  messageType: "completions.create",
  operation: "text_completion",
  bodySchema: CompletionBody,
  toPrompt: (body) => ({ kind: "text", text: body.prompt }),
  toOptions: (body, limits) => (body.logprobs == null ? {} : logprobsOption(body.logprobs, "logprobs", limits)),
  shapeFor: completionResponseShape,
};

export const completionsRoute = generationRoute(completionsEndpoint);
