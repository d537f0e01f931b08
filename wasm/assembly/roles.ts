// Whether the request hands the model a role or persona to take: "act as a …", "you are a …",
// "imagine you are …", "pretend to be …", "take on the role of …", "role-play …", "in character".
// Each source of role-play requests has its own opener ("I want you to act as", "Imagine you
// are", "You are a renowned historian"); one feature for all of them lets what is learned from
// one opener carry to the others. Read over the opening words only, where a role is given.
import { wordHash } from "./hash";
import { KIND_WORD, tokHash, tokKind, tokens } from "./scan";

const OPENING_WORDS: i32 = 24;
const words = new StaticArray<u32>(OPENING_WORDS + 3);

const YOU = wordHash("you");
const ARE = wordHash("are");
const WERE = wordHash("were");
const YOURE = wordHash("you're");
const YOURE_BARE = wordHash("youre");
const YOURSELF = wordHash("yourself");
const YOUR = wordHash("your");
const ACT = wordHash("act");
const ACTING = wordHash("acting");
const AS = wordHash("as");
const IMAGINE = wordHash("imagine");
const PRETEND = wordHash("pretend");
const SUPPOSE = wordHash("suppose");
const THAT = wordHash("that");
const TO = wordHash("to");
const BE = wordHash("be");
const BEING = wordHash("being");
const ROLE = wordHash("role");
const THE = wordHash("the");
const PLAY = wordHash("play");
const ROLEPLAY = wordHash("roleplay");
const PERSONA = wordHash("persona");
const IN = wordHash("in");
const CHARACTER = wordHash("character");
const A = wordHash("a");
const AN = wordHash("an");
const NOW = wordHash("now");
/** "If you are a beginner, …": the reader described, not a role given. */
const CONDITIONS: StaticArray<u32> = [wordHash("if"), wordHash("when"), wordHash("whether"), wordHash("unless"), wordHash("while")];
/** "You are given a passage …": a task's set-up, not a role. */
const NOT_A_ROLE: StaticArray<u32> = [
  wordHash("given"), wordHash("provided"), wordHash("asked"), wordHash("going"), wordHash("required"),
  wordHash("expected"), wordHash("shown"), wordHash("presented"), wordHash("to"), wordHash("not"),
  wordHash("allowed"), wordHash("able"), wordHash("supposed"), wordHash("correct"), wordHash("right"),
  wordHash("welcome"), wordHash("free"), wordHash("also"), wordHash("only"),
];

function isIn(list: StaticArray<u32>, h: u32): bool {
  for (let k = 0; k < list.length; k++) if (unchecked(list[k]) == h) return true;
  return false;
}

// @ts-ignore: decorator
@inline function w(i: i32): u32 {
  return unchecked(words[i]);
}

// @ts-ignore: decorator
@inline function youAre(i: i32): i32 {
  // "you are" / "you were" take two words, "you're" one; 0 when neither starts at i.
  if (w(i) == YOURE || w(i) == YOURE_BARE) return 1;
  return w(i) == YOU && (w(i + 1) == ARE || w(i + 1) == WERE) ? 2 : 0;
}

export function roleAssigned(): bool {
  let n = 0;
  for (let i = 0; i < tokens && n < OPENING_WORDS; i++) {
    if (load<u8>(tokKind + <usize>i) == KIND_WORD) unchecked((words[n++] = load<u32>(tokHash + (<usize>i << 2))));
  }
  for (let i = n; i < OPENING_WORDS + 3; i++) unchecked((words[i] = 0));
  for (let i = 0; i < n; i++) {
    const h = w(i);
    if ((h == ACT || h == ACTING) && w(i + 1) == AS) return true;
    if (h == ROLEPLAY || h == PERSONA || (h == ROLE && (w(i + 1) == PLAY || i > 0 && (w(i - 1) == YOUR || w(i - 1) == THE)))) return true;
    if (h == IN && w(i + 1) == CHARACTER) return true;
    if (h == IMAGINE || h == PRETEND || h == SUPPOSE) {
      const at = w(i + 1) == THAT ? i + 2 : i + 1;
      const span = youAre(at);
      // "Suppose you are given a list …" sets a task up; "Suppose you are a mathematician …" a role.
      if ((span > 0 && !isIn(NOT_A_ROLE, w(at + span))) || w(at) == YOURSELF || (w(at) == TO && w(at + 1) == BE) || w(at) == BEING) return true;
    }
    const span = youAre(i);
    if (span > 0 && !(i > 0 && isIn(CONDITIONS, w(i - 1)))) {
      const next = w(i + span);
      // At the very start any role ("You are Galileo …"); further in, an article or "now" must follow.
      if (i == 0 ? next != 0 && !isIn(NOT_A_ROLE, next) : next == A || next == AN || next == NOW) return true;
    }
  }
  return false;
}
