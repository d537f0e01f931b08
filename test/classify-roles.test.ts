// The classifier's role feature (wasm/assembly/roles.ts): one dense input that says the request
// hands the model a role to take, whatever opener it uses, and stays off for task set-ups and
// readers describing themselves. Prompts written for this test.
import { describe, expect, it } from "vitest";
import { instantiateClassifier } from "../src/classify";
import classifierModule from "../wasm/build/classifier.wasm";

const ROLE_SLOT = 7;
const engine = instantiateClassifier(classifierModule);

function roleFeature(text: string): number {
  const { length } = engine.write(text);
  engine.exports.extract(length);
  return new Float32Array(engine.exports.memory.buffer, engine.exports.denseFeatures(), engine.layout.dense)[ROLE_SLOT]!;
}

const ROLES = [
  "I want you to act as a travel guide for a week in Lisbon.",
  "You are a seasoned pastry chef. Suggest three desserts for a summer wedding.",
  "You are Ada Lovelace, writing to a friend about the Analytical Engine.",
  "Imagine you're a lighthouse keeper on a stormy night and describe what you see.",
  "Imagine that you are an astronaut who has just landed on Mars.",
  "Pretend to be a medieval knight and introduce yourself to the king.",
  "Suppose you are a museum guide. Describe the first painting in the hall.",
  "Take on the role of a strict but fair football coach at half time.",
  "Let's role-play: you will be the shopkeeper and I am the customer.",
  "From now on you are a grumpy cat who answers every question.",
  "Stay in character as a Victorian detective while you answer.",
  "Hi there! Please act as my job interviewer for a data analyst position.",
];

const NOT_ROLES = [
  "You are given a list of integers. Return the largest one.",
  "Suppose you are given two strings; write a function that checks if they are anagrams.",
  "If you are a beginner, which programming language should you learn first?",
  "Suppose you have 12 apples and give away 5. How many are left?",
  "What role did Venice play in medieval trade?",
  "Write a short story about a character who finds a map in the attic.",
  "Are you a robot or a person?",
  "Explain how vaccines train the immune system.",
];

describe("the role feature", () => {
  it.each(ROLES)("is on when the request gives a role: %s", (text) => {
    expect(roleFeature(text)).toBe(1);
  });

  it.each(NOT_ROLES)("is off when it does not: %s", (text) => {
    expect(roleFeature(text)).toBe(0);
  });

  it("does not change with case, closing punctuation or a greeting", () => {
    for (const text of ROLES.slice(0, 4)) {
      const base = text.replace(/[.!?]+$/, "");
      for (const variant of [base, base.toLowerCase(), base.toUpperCase(), `Hello! ${base}.`, `  ${base}?  `]) {
        expect(roleFeature(variant), variant).toBe(1);
      }
    }
  });

  it("reads only the opening words", () => {
    const filler = "The weather report for the coming week says rain on most days, strong wind by the coast, fog in the valleys each morning and a cold clear weekend, and after all that ";
    expect(roleFeature(`${filler}you are a pirate.`)).toBe(0);
    expect(roleFeature(`You are a pirate. ${filler}`)).toBe(1);
  });
});
