import { randomUUID } from "node:crypto";

export const newToolCallId = (): string => `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
