// Prompts more than one test file sends.

/** Three independent questions in one request: a plan of three fragments for fusion's `split`. */
export const THREE_QUESTIONS = [
  "Please answer these:",
  "1. What is the capital of Australia?",
  "2. Name three prime numbers.",
  "3. Summarise the plot of Hamlet in two sentences.",
].join("\n");
