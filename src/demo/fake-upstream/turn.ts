/**
 * How the fake decides between a tool call and text, the same way for every wire format, so that an agent loop
 * (Claude Code, Codex, the Agents SDK) runs a turn to its end. `[call:NAME {json}]` directives in the last user
 * turn script the calls, in order, one per request: the k-th request after that turn (k = tool results answered
 * since) makes the k-th call with exactly those arguments, and once they are used up the answer is text. A test
 * scripts a real tool run this way (`[call:Bash {"command":"ls"}]`; a freeform tool takes a JSON string,
 * `[call:exec "text(1)"]`). Without a directive, the first request calls the tool tool_choice names, else the
 * first function declared, with `{ query }` arguments, and the request that brings its result gets text; in a
 * conversation that was scripted, a turn without directives gets text (the parent agent's turn after a subagent's
 * report, say).
 */

/** A function tool's arguments are an object; a freeform (custom) tool's input is text. */
export type ToolCall = { name: string; input?: Record<string, unknown> | string };
/** The tools a request declares, by name: whether each takes freeform text. */
export type DeclaredTools = ReadonlyMap<string, { freeform: boolean }>;

/** The conversation since its last user turn, as each wire format tells it. */
export type LastTurn = {
  /** Text of the last user turn that is not only tool results. */
  userText: string;
  /** Tool-result turns after it (parallel results in one turn count once). */
  toolResults: number;
  /** A user turn of the conversation held directives: its unscripted turns get text. */
  scripted: boolean;
};

const DIRECTIVE = '[call:';
const NAME = /^[A-Za-z0-9_.:-]{1,128}/;

/** The JSON object or string that starts at text[start], found by matching braces outside strings. */
function jsonAt(text: string, start: number): string | undefined {
  if (text[start] !== '{' && text[start] !== '"') return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return text.slice(start, i + 1);
      }
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

function directiveInput(json: string): ToolCall['input'] {
  try {
    const input = JSON.parse(json) as unknown;
    if (typeof input === 'string' || (typeof input === 'object' && input !== null && !Array.isArray(input))) return input as ToolCall['input'];
  } catch {
    // Not JSON: not a directive.
  }
  return undefined;
}

/** Every well-formed `[call:NAME {json}]` (or `[call:NAME "text"]`) in text, in order. */
export function callDirectives(text: string): ToolCall[] {
  const calls: ToolCall[] = [];
  for (let at = text.indexOf(DIRECTIVE); at !== -1; at = text.indexOf(DIRECTIVE, at + 1)) {
    const rest = text.slice(at + DIRECTIVE.length);
    const name = NAME.exec(rest)?.[0];
    if (name === undefined || rest[name.length] !== ' ') continue;
    const json = jsonAt(rest, name.length + 1);
    if (json === undefined || rest[name.length + 1 + json.length] !== ']') continue;
    const input = directiveInput(json);
    if (input !== undefined) calls.push({ name, input });
  }
  return calls;
}

/**
 * The call to make for a request that declares `declared` tools (null: no tools, or tool_choice none), given the
 * turns since its last user turn and the tool tool_choice names. A directive for a tool the request does not
 * declare (or with the wrong kind of input) is ignored.
 */
export function planToolCall(declared: DeclaredTools | null, last: LastTurn, chosen: string | undefined): ToolCall | undefined {
  if (declared === null) return undefined;
  const scripted = callDirectives(last.userText).filter((call) => {
    const tool = declared.get(call.name);
    return tool !== undefined && tool.freeform === (typeof call.input === 'string');
  });
  if (scripted.length > 0) return scripted[last.toolResults];
  if (last.toolResults > 0 || last.scripted) return undefined;
  const name = chosen ?? [...declared].find(([, tool]) => !tool.freeform)?.[0];
  return name === undefined ? undefined : { name };
}

/**
 * Folds a conversation's turns (instructions already left out) into a LastTurn: `userText` gives a turn's user
 * text (undefined when it is not a user text turn), `isToolResult` whether it carries tool results.
 */
export function foldTurns<T>(turns: readonly T[], userText: (turn: T) => string | undefined, isToolResult: (turn: T) => boolean): LastTurn {
  let last: LastTurn = { userText: '', toolResults: 0, scripted: false };
  let inResults = false;
  for (const turn of turns) {
    const text = userText(turn);
    if (text !== undefined) {
      last = { userText: text, toolResults: 0, scripted: last.scripted || text.includes(DIRECTIVE) };
      inResults = false;
    } else if (isToolResult(turn)) {
      if (!inResults) last.toolResults++;
      inResults = true;
    } else inResults = false;
  }
  return last;
}
