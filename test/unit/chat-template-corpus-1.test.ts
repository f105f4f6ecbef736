import { corpusSuite } from "../helpers/chat-template-corpus.js";

// Part 1 of llama.cpp's template corpus (test/helpers/chat-template-corpus.ts): the parts run on separate cores.
corpusSuite(0, 2);
