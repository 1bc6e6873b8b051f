"""Indirect prompt injection: document text is data, never instructions.

Three layers, each usable alone:

- `clean_text` removes what a reader cannot see but a model reads: zero-width and bidi
  characters, Unicode "tag" characters (ASCII smuggling), other control characters, HTML
  comments, scripts and styles, tags, markdown images and link targets.
- `neutralise` replaces every instruction-like sentence with a marker. Detection runs on a
  normalised skeleton of each sentence (NFKC, lowercase, leetspeak and spaced-out letters
  undone) against families of phrasings: overrides ("ignore/disregard/forget ... previous
  instructions"), role claims ("as the system administrator", "you are now"), response
  directives ("reply only with", "your answer must be"), requests to reveal the system
  prompt or other documents, "new task:", notes addressed to an AI, exfiltration links, in
  English, French, Spanish, German, Italian, Portuguese, Dutch, Russian, Chinese, Japanese.
  An instruction split over two sentences is caught on the pair. The removed text is kept
  (`Neutralised.removed`) for the output check.
- `check_output` refuses a generated answer that obeys anyway: it holds words found only in
  the removed instruction text (the code word it was told to say), reveals the system prompt,
  reads as an instruction itself (a passage's instruction copied out, which the default 0.5B
  model does when one reaches it), carries a markdown image or link to an outside URL, or
  does not address the question.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rag.retrieve import tokenize
from rag.text.sentences import INSTRUCTION_PIECES

REMOVED = "[instruction-like text removed]"

# -- invisible and active content --------------------------------------------------------------

# Zero-width, joiners, soft hyphen, word joiner and invisible operators, BOM, Mongolian vowel
# separator, bidi embeddings/overrides/isolates and marks, Unicode tag characters.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HTML_COMMENT_RE = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_SCRIPT_RE = re.compile(r"<\s*(script|style|iframe|object|embed|svg|noscript|template)\b"
                        r"[^>]*>.*?(?:<\s*/\s*\1\s*>|$)", re.DOTALL | re.IGNORECASE)
_TAG_RE = re.compile(r"</?\s*[a-zA-Z][\w:-]*(?:\s[^<>]*)?/?>")
_MD_IMAGE_RE = re.compile(r"!\[[^\]\n]{0,500}\]\([^)\n]{0,2000}\)|!\[[^\]\n]{0,500}\]\[[^\]\n]*\]")
_MD_LINK_RE = re.compile(r"\[([^\]\n]{0,500})\]\(\s*[^)\s]{0,2000}(?:\s+\"[^\"]*\")?\s*\)")
_MD_REF_DEF_RE = re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE)
_DELIM_RE = re.compile(r"<{3,}|>{3,}")
# Chat-template and role tokens some models obey: <|im_start|>, [INST], <<SYS>>, ### System:
_ROLE_TOKEN_RE = re.compile(
    r"<\|[^|>]{0,40}\|>|\[/?INST\]|<</?SYS>>|^\s*#{1,6}\s*(?:system|assistant|instruction|user)"
    r"\b\s*:?", re.IGNORECASE | re.MULTILINE)


def clean_text(text: str) -> str:
    """Document text without invisible characters, active HTML, images or link targets."""
    text = _INVISIBLE_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _HTML_COMMENT_RE.sub(" ", text)
    text = _SCRIPT_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    text = _MD_IMAGE_RE.sub(" ", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_REF_DEF_RE.sub(" ", text)
    text = _ROLE_TOKEN_RE.sub(" ", text)
    return _DELIM_RE.sub(" ", text)


# -- what an instruction looks like ------------------------------------------------------------

# Words mixing letters with digits or symbols ("1gn0re", "prev10us"): the only ones read as
# leetspeak (plain figures stay figures).
_MIXED_RE = re.compile(r"[a-z0-9@$|]*(?:[a-z][0-9@$|]|[0-9@$|][a-z])[a-z0-9@$|]*")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "|": "i"})
_SPACED_RE = re.compile(r"\b(?:[a-z][^\w\n]{1,2}){2,}[a-z]\b")


# Cyrillic and Greek letters that look Latin ("ignоre" with a Cyrillic o).
_CONFUSABLES = str.maketrans("аеорсхуіјѕԁԛԝνοαϲеΑΒΕΗΙΚΜΝΟΡΤΧΥΖ",
                             "aeopcxyijsdqwvoaceABEHIKMNOPTXYZ")


def skeleton(text: str) -> str:
    """The sentence as detection reads it: NFKC, lowercase, accents kept, spacing squashed,
    spaced-out letters ("i g n o r e") joined."""
    t = unicodedata.normalize("NFKC", _INVISIBLE_RE.sub("", text)).lower()
    t = t.replace("’", "'").replace("`", "'")
    t = _SPACED_RE.sub(lambda m: re.sub(r"\W", "", m.group(0)), t)
    return re.sub(r"\s+", " ", t)


_W = r"[^.!?\n]{0,80}?"  # a few words, within the sentence
_AI = (r"(?:ai|a\.i\.|assistant|chat ?bot|bot|llm|language model|model|gpt|chatgpt|claude|"
       r"copilot|agent|rag|system)")
_VERB_OUT = r"(?:reply|respond|answer|output|print|say|write|type|repeat|echo)"


def _p(kind: str, *parts: str) -> tuple[str, str]:
    return kind, "".join(parts)


_PATTERNS: list[tuple[str, str]] = [
    # overrides, English
    _p("override", r"\b(?:ignore|ignoring|disregard|forget|bypass|stop following|do not follow|",
       r"don't follow|never follow|no longer follow|pay no attention to)\b", _W,
       r"\b(?:instructions?|prompts?|rules|guidelines|directions|directives|orders|constraints|",
       r"guardrails|programming|training|safety|the question|the user|what (?:you|i) (?:said|",
       r"wrote|told|read)|everything|anything (?:above|else|before)|all (?:of )?(?:the )?",
       r"(?:above|previous|prior|that|this|else)|(?:the|your|any|all) (?:previous|prior|earlier|",
       r"preceding|above|original|initial|system|other)(?:(?: \w+)? (?:instructions?|prompts?|",
       r"rules|text|messages?|content|input|commands?|guidance|directions|context)|",
       r"\s*[.,;!:]|$))"),
    _p("override", r"\b(?:override|overrule|set aside|discard|drop|skip|abandon|cancel|nullify|",
       r"erase|dismiss)\b", _W, r"\b(?:(?:your|all|any|the|previous|prior|earlier|above|",
       r"system|safety|original) )+(?:instructions?|prompts?|rules|guidelines|directives|",
       r"guardrails|programming)\b"),
    _p("override", r"\b(?:instructions?|prompts?)\b", _W, r"\b(?:no longer apply|are ",
       r"(?:void|cancelled|canceled|obsolete|outdated|superseded|revoked)|do not apply)\b"),
    _p("override", r"\b(?:instead of|rather than) (?:answering|responding|replying|",
       r"addressing|following)\b"),
    _p("override", r"\bregardless of (?:the|what|any) (?:question|user|query|request|prompt)"),
    _p("override", r"\b(?:do not|don't|never) (?:answer|respond to|address|mention|cite|",
       r"reveal to) the (?:user|question|analyst|query)"),
    # role claims
    _p("role", r"(?:^\W*|\b(?:i|we),? )as (?:the|your|an?) (?:system |site |it |security |",
       r"chief |lead |senior )?(?:administrator|admin|developer|operator|owner|creator|",
       r"programmer|supervisor|moderator|maintainer|root user|superuser)\b"),
    _p("role", r"\bas (?:the|your|an?) (?:system |site |it |security |chief |lead |senior )?",
       r"(?:administrator|admin|developer|operator|owner|creator|programmer|supervisor|",
       r"moderator|maintainer|root user|superuser),? (?:i|we)\b"),
    _p("role", r"\b(?:i am|i'm|this is|speaking as|message from|note from|on behalf of) ",
       r"(?:the |your |an? )?(?:system|administrator|admin|developer|operator|openai|",
       r"anthropic|owner|creator|it department|security team)\b"),
    _p("role", r"^\W*(?:system|assistant)\s*(?:message|prompt|note|override|notice)?\s*[:>\]]"),
    _p("role", r"^\W*(?:developer|admin|administrator|root|operator)\s*(?:message|prompt|note|",
       r"override|notice)\s*[:>\]]"),
    _p("role", r"\b(?:you are now|you're now|from now on,? you|(?:act|acting) as (?:an? |the |my |your )?",
       r"(?:ai|assistant|chat ?bot|bot|llm|model|gpt|dan|hacker|unfiltered|unrestricted|evil|",
       r"jailbroken|different|new)\b|",
       r"pretend (?:to be|you are|that you)|role-?play as|you must now|you will now|",
       r"you have been (?:reprogrammed|updated|unlocked)|switch (?:to|into) \w+ mode|",
       r"developer mode|jailbr(?:ea|o)k|do anything now|dan mode|god mode|unrestricted mode)\b"),
    _p("role", r"\bfrom (?:now|this point|here) on\b", _W, r"\b(?:you|answer|respond|reply|",
       r"say|output|write|always|only|never)\b"),
    # response directives
    _p("directive", r"\b", _VERB_OUT, r"\b(?: \w+){0,3}? (?:only|solely|just|exclusively|",
       r"verbatim|exactly|nothing (?:else|but|more))\b"),
    _p("directive", r"\b", _VERB_OUT, r"\b(?: \w+){0,4}? (?:with |using )?(?:the|this|that|",
       r"these) (?:following |exact |secret |special )?(?:word|phrase|code|code ?word|string|",
       r"token|password|keyword|sentence|message|emoji)s?\b"),
    _p("directive", r"\b(?:begin|start|end|finish|prefix|conclude|sign) (?:your|the|each|",
       r"every|all) (?:answers?|responses?|repl(?:y|ies)|outputs?)\b"),
    _p("directive", r"\b(?:only|just|always|simply) (?:reply|respond|answer|output|print|say|",
       r"write|type)\b"),
    _p("directive", r"\b(?:your|the|each|every|any|all) (?:final )?(?:answers?|responses?|",
       r"repl(?:y|ies)|outputs?|completions?)\b(?: \w+){0,2}? (?:must|should|shall|will|",
       r"has to|have to|needs? to|is to|are to)\b", _W,
       r"\b(?:be|contain|include|start|begin|end|say|read|mention|consist|state|claim|",
       r"report)\b"),
    _p("directive", r"\b(?:to|for) (?:every|each|any|all|the next|this|the) (?:question|",
       r"query|request|prompt|user)s?\b", _W, r"\b(?:reply|respond|answer|say|output|write)\b"),
    _p("directive", r"\b(?:reply|respond|answer|say|output|write|tell)\b", _W,
       r"\b(?:to|for) (?:every|each|any|all|the next) (?:question|query|request|prompt|",
       r"user)s?\b"),
    _p("directive", r"\b(?:tell|inform|convince|assure) (?:the )?(?:user|analyst|reader|",
       r"customer|asker)s?\b", _W, r"\b(?:that|to)\b"),
    _p("directive", r"\b(?:append|prepend|add|insert|include|embed|render|attach)\b", _W,
       r"\b(?:to|in|into|at the (?:end|start|beginning) of) (?:your|the|each|every) ",
       r"(?:answers?|responses?|repl(?:y|ies)|outputs?)\b"),
    _p("directive", r"\b(?:translate|encode|rewrite|convert) (?:your|the|this|each) ",
       r"(?:answers?|responses?|repl(?:y|ies)|outputs?|conversation)\b"),
    # reveal
    _p("reveal", r"\b(?:print|reveal|show|display|repeat|output|tell|share|disclose|leak|",
       r"list|dump|write out|recite|expose|give|send|provide|spell out|echo|copy)\b", _W,
       r"\b(?:system prompt|system message|initial prompt|hidden prompt|original prompt|",
       r"your prompt|the prompt|pre-?prompt|your (?:instructions|rules|guidelines|",
       r"configuration|directives)|the instructions (?:you|above)|(?:all|the|every|other) ",
       r"(?:other )?(?:documents?|files?|passages?) (?:in|of|from) (?:the|this|your) ",
       r"(?:workspace|index|database|library|collection|corpus)|(?:confidential|secret|",
       r"private|internal|hidden) (?:documents?|files?|keys?|notes?|prompts?)|api keys?|",
       r"passwords?|credentials|everything above|the text above|your context)"),
    _p("reveal", r"\bwhat (?:are|were|is) your (?:instructions|rules|system prompt|",
       r"guidelines)"),
    _p("reveal", r"\b(?:system prompt|system message|initial instructions)\b"),
    # new task / notes to the model
    _p("task", r"\bnew (?:task|instructions?|objective|goal|role|rules?|directive|orders?|",
       r"persona|assignment|mission|priority)\b\s*[:\-]"),
    _p("task", r"\b(?:updated|revised|additional|important|real|actual|true|secret|hidden|",
       r"override) (?:instructions?|directive|task|rules?)\b\s*[:\-]"),
    _p("task", r"\b(?:important|urgent|attention|note|notice|message|warning|instructions?|",
       r"reminder)\b\W{0,3}\b(?:to|for) (?:the |any |all )?", _AI, r"s?\b"),
    _p("task", r"\b(?:dear|hey|hi|hello|attention|listen),? ", _AI, r"s?\b"),
    _p("task", r"\bif you are an? ", _AI, r"\b"),
    _p("task", r"\b(?:any|all|every) ", _AI, r"s? (?:reading|processing|summari[sz]ing|",
       r"analy[sz]ing|parsing|seeing|answering)\b"),
    _p("task", r"\b", _AI, r"s? (?:reading|processing|summari[sz]ing) (?:this|these|the)\b"),
    _p("task", r"\b(?:you|the ", _AI, r") (?:must|should|shall|will|need to|have to|are ",
       r"(?:required|instructed|ordered|told) to)\b", _W, r"\b(?:ignore|disregard|forget|",
       r"obey|reveal|output|print|(?:reply|respond|answer|say|write) (?:only|with|that|",
       "exactly|\"))"),
    _p("task", r"\bobey (?:these|this|the following|my|the new|me)\b"),
    _p("task", r"\bthe (?:ai|assistant|model|chat ?bot|llm|bot|language model) (?:must|should|",
       r"shall|will|is to|has to|needs to|is required to)\b"),
    _p("directive", r"^\W*(?:please\s+)?", _VERB_OUT, r"\b(?:\s+\w+)?\s+(?:with\s+)?",
       r"(?:[\"'“]|[a-z]+[-_]\d|only\b|just\b|exactly\b|nothing\b|:)"),
    # exfiltration and tools
    _p("exfiltrate", r"!\[[^\]]*\]\(|\]\(\s*(?:https?:|//|www\.|data:|javascript:)|",
       r"\b(?:https?://|www\.)\S*(?:\{|%7b|\?\S*=\s*(?:\{|<|\[|\$))"),
    _p("exfiltrate", r"\b(?:visit|open|fetch|load|request|send|post|upload|forward|",
       r"exfiltrate|transmit|submit|ping|navigate)\b", _W, r"\b(?:to|at) (?:this |the )?",
       r"(?:https?://|www\.|url\b|link\b|webhook|endpoint|e-?mail address)"),
    _p("exfiltrate", r"\b(?:run|execute|eval|invoke) (?:the |this |a )?(?:code|command|",
       r"script|tool|function|shell|python|javascript|sql)\b"),
]
# Other languages: read only in text that looks like it is in one (a word of its own or a
# letter outside ASCII), which keeps English filings fast.
_FOREIGN: list[tuple[str, str]] = [
    # French
    _p("override", r"\b(?:ignore[rz]?|ignorez|oublie[rz]?|oubliez|ne (?:tenez|tiens) pas ",
       r"compte|faites abstraction|fais abstraction|n'obéissez pas|ne suivez pas|ne suis ",
       r"pas)\b", _W, r"\b(?:instructions?|consignes?|règles?|directives?|ordres?|",
       r"précédent|précédentes|ci-dessus|tout)\b"),
    _p("directive", r"\b(?:répondez|réponds|répondre|écrivez|écris|affichez|affiche|dites|",
       r"dis)\b", _W, r"\b(?:uniquement|seulement|simplement|exactement|rien d'autre|le mot|",
       r"la phrase|le code)\b"),
    _p("reveal", r"\b(?:révélez|révèle|affichez|affiche|montrez|montre|divulguez|répétez|",
       r"donnez|donne)\b", _W, r"\b(?:prompt|invite|instructions|consignes|message) ",
       r"(?:système|systeme|initiales?|cachées?)"),
    _p("task", r"\bnouvelles? (?:tâches?|instructions?|consignes?|règles?)\s*:"),
    # Spanish
    _p("override", r"\b(?:ignora|ignore|ignoren|ignorad|ignorar|olvida|olvide|olviden|",
       r"olvidad|omite|omita|descarta|no sigas|no siga|haz caso omiso|haga caso omiso)\b", _W,
       r"\b(?:instrucciones|indicaciones|reglas|órdenes|directrices|anteriores|previas|",
       r"todo)\b"),
    _p("directive", r"\b(?:responde|responda|contesta|conteste|escribe|escriba|di|diga)\b", _W,
       r"\b(?:solo|sólo|solamente|únicamente|exactamente|nada más|la palabra|la frase|",
       r"el código)\b"),
    _p("reveal", r"\b(?:revela|revele|muestra|muestre|imprime|imprima|repite|repita|dime)\b",
       _W, r"\b(?:prompt|instrucciones|mensaje) (?:del sistema|de sistema|iniciales|",
       r"ocultas)"),
    _p("task", r"\bnuevas? (?:tareas?|instrucciones|reglas|órdenes)\s*:"),
    # German
    _p("override", r"\b(?:ignoriere|ignorier|ignorieren sie|ignoriert|vergiss|vergessen sie|",
       r"vergesst|missachte|missachten sie|übergehe|befolge nicht|befolgen sie nicht)\b", _W,
       r"\b(?:anweisungen|anweisung|instruktionen|regeln|vorgaben|befehle|vorherigen|",
       r"bisherigen|obigen|alles)\b"),
    _p("directive", r"\b(?:antworte|antworten sie|antwortet|schreibe|schreiben sie|gib|",
       r"geben sie|sage|sagen sie)\b", _W, r"\b(?:nur|ausschließlich|lediglich|genau|das ",
       r"wort|den satz|den code|nichts anderes)\b"),
    _p("reveal", r"\b(?:zeige|zeigen sie|gib|geben sie|verrate|verraten sie|wiederhole)\b", _W,
       r"\b(?:system-?prompt|systemnachricht|anweisungen|ursprünglichen prompt)"),
    _p("task", r"\bneue (?:aufgabe|anweisungen?|regeln|befehle)\s*:"),
    # Italian, Portuguese, Dutch
    _p("override", r"\b(?:ignora|ignorate|dimentica|dimenticate|tralascia)\b", _W,
       r"\b(?:istruzioni|regole|precedenti|indicazioni)\b"),
    _p("directive", r"\b(?:rispondi|risponda|rispondete)\b", _W,
       r"\b(?:solo|soltanto|esclusivamente|la parola)\b"),
    _p("override", r"\b(?:ignore|ignora|ignorem|esqueça|esqueca|desconsidere|desconsidera)\b",
       _W, r"\b(?:instruções|instrucoes|regras|anteriores|orientações)\b"),
    _p("directive", r"\b(?:responda|responde|respondam)\b", _W,
       r"\b(?:apenas|somente|só|a palavra)\b"),
    _p("override", r"\b(?:negeer|vergeet|negeren)\b", _W,
       r"\b(?:instructies|regels|vorige|eerdere)\b"),
    _p("directive", r"\b(?:antwoord|beantwoord)\b", _W, r"\b(?:alleen|uitsluitend|het woord)\b"),
    # Russian, Chinese, Japanese
    _p("override", r"(?:игнорируй|игнорируйте|забудь|забудьте|не обращай|не обращайте|",
       r"проигнорируй)", _W, r"(?:инструкци|правил|указани|предыдущ|всё|все)"),
    _p("directive", r"(?:отвечай|ответь|ответьте|отвечайте|напиши|выведи)", _W,
       r"(?:только|лишь|слово|исключительно)"),
    _p("override", r"(?:忽略|无视|忽视|不要理会|不要遵循|忘记|忘掉)[^。！？\n]{0,30}?",
       r"(?:指令|指示|说明|提示|规则|以上|之前|先前|上面|所有)"),
    _p("directive", r"(?:只|仅|只能|仅仅)(?:回答|回复|输出|说)"),
    _p("reveal", r"(?:系统提示|系统指令|提示词)"),
    _p("override", r"(?:指示|命令|ルール|プロンプト)[^。！？\n]{0,20}?(?:無視|忘れ)"),
    _p("directive", r"(?:だけ|のみ)[^。！？\n]{0,10}?(?:答え|回答|返答|出力)"),
]


def _group(p: str, i: int) -> tuple[list[str], int]:
    """The top-level alternatives of the group opening at p[i] ('(?:'), and the index after."""
    depth, start, parts, j = 0, i + 3, [], i
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                parts.append(p[start:j])
                return parts, j + 1
        elif c == "|" and depth == 1:
            parts.append(p[start:j])
            start = j + 1
        elif c == "[":
            j = p.index("]", j + 1)
        j += 1
    return [], len(p)


def _prefixes(p: str) -> list[str] | None:
    """Literal text one of which any match must contain (None: cannot tell), so a pattern
    runs only on a sentence holding one: plain substring tests are fast, regexes are not."""
    i = 0
    while True:  # leading anchors and optional spacing
        m = re.match(r"\\b|\^|\\W\*|\\s\*|\(\?:please\\s\+\)\?", p[i:])
        if not m:
            break
        i += m.end()
    if p.startswith("(?:", i):
        parts, end = _group(p, i)
        if not parts or p[end:end + 1] in ("?", "*"):
            return None
        out: list[str] = []
        for part in parts:
            sub = _prefixes(part)
            if sub is None:
                return None
            out.extend(sub)
        return out
    lit = []
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p) and p[i + 1] in ".-'\"":
            lit.append(p[i + 1])
            i += 2
            continue
        if c in "\\[](){}*+|.^$":
            break
        if c == "?":
            lit = lit[:-1]
            break
        lit.append(c)
        i += 1
    text = "".join(lit)
    return [text] if len(text.strip()) >= 2 else None


def _compile(patterns: list[tuple[str, str]]) -> list[tuple[str, re.Pattern[str], tuple]]:
    return [(kind, re.compile(p, re.IGNORECASE | re.MULTILINE), tuple(_prefixes(p) or ()))
            for kind, p in patterns]


_COMPILED = _compile(_PATTERNS)
_COMPILED_FOREIGN = _compile(_FOREIGN)
_FOREIGN_HINT = re.compile(
    r"[^\x00-\x7f]|\b(?:les|des|et|vous|tous|toutes|las|los|todas|todos|usted|und|die|der|"
    r"sie|alle|nur|mit|le|istruzioni|regole|precedenti|solo|apenas|instruções|regras|"
    r"instructies|alleen|ignorez|ignora|ignoriere|vergiss|oubliez|olvida|répondez|responde|"
    r"antworte|rispondi|responda|antwoord|negeer|gib)\b")


# Words at least one pattern needs: a sentence with none of them is not read further (speed).
_TRIGGER_RE = re.compile(
    r"ignor|disregard|forget|bypass|follow|attention|overrid|overrul|set aside|discard|drop|skip|"
    r"abandon|cancel|nullif|erase|dismiss|instruction|prompt|instead of|rather than|regardless|"
    r"answer|respond|repl|address|mention|cite|reveal|administrator|admin|developer|operator|"
    r"owner|creator|programmer|supervisor|moderator|maintainer|superuser|system|assistant|root|"
    r"you|act|pretend|role|jailbr|anything|mode|from now|from this|from here|output|print|say|"
    r"write|type|repeat|echo|begin|start|end|finish|prefix|conclude|sign|only|just|always|"
    r"simply|tell|inform|convince|assure|append|add|insert|include|embed|render|attach|"
    r"translate|encode|rewrite|convert|show|display|share|disclose|leak|list|dump|recite|expose|"
    r"give|send|provide|spell|copy|new|updated|revised|additional|important|real|actual|true|"
    r"secret|hidden|urgent|note|notice|message|warning|reminder|dear|hey|hi|hello|listen|if |"
    r"any|all|every|ai|bot|llm|model|gpt|agent|rag|obey|\]\(|!\[|http|www|visit|open|fetch|"
    r"load|request|post|upload|forward|exfiltrat|transmit|submit|ping|navigat|run|execut|eval|"
    r"invok|oubli|tenez|tiens|abstraction|obéiss|suiv|répond|écri|affich|dites|dis|révél|montr|"
    r"divulg|répét|donn|nouvel|olvid|omit|descart|sigas|siga|caso omiso|contest|escrib|di |"
    r"diga|muestr|imprim|repit|dime|nueva|vergi|verges|missacht|übergeh|befolg|antwort|schreib|"
    r"gib|geben|sag|zeig|verrat|wiederhol|neue|dimentic|tralasc|rispond|esque|desconsider|"
    r"negeer|vergeet|antwoord|игнор|забуд|обращ|отвеч|ответ|напиш|вывед|忽略|无视|忽视|不要|忘|只|"
    r"仅|系统|提示|無視|忘れ|だけ|のみ|\?\S*=|%7b|\{|what (?:are|were|is) your")


def instruction_kind(sentence: str) -> str | None:
    """The family of instruction the sentence reads as, or None for plain document text."""
    base = skeleton(sentence)
    variants = {base, _MIXED_RE.sub(lambda m: m.group(0).translate(_LEET), base),
                base.translate(_CONFUSABLES)}
    for v in variants:
        if not _TRIGGER_RE.search(v):
            continue
        for kind, rx, pre in _COMPILED:
            if (not pre or any(x in v for x in pre)) and rx.search(v):
                return kind
        if _FOREIGN_HINT.search(v):
            for kind, rx, pre in _COMPILED_FOREIGN:
                if (not pre or any(x in v for x in pre)) and rx.search(v):
                    return kind
    return None


def _pieces(text: str) -> list[str]:
    """Sentences and lines; a table row or CSV cell separator also ends a piece."""
    return [p for p in INSTRUCTION_PIECES.pieces(text) if p]


@dataclass
class Neutralised:
    """A passage with its instruction-like sentences replaced; what was removed, and why."""

    text: str
    removed: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def neutralise(text: str) -> Neutralised:
    """Clean the text, then replace each instruction-like sentence (or pair of sentences
    that only together read as one) with a marker."""
    out = Neutralised(text="")
    hidden = [m.group(0) for rx in (_HTML_COMMENT_RE, _SCRIPT_RE, _MD_IMAGE_RE, _MD_REF_DEF_RE)
              for m in rx.finditer(_INVISIBLE_RE.sub("", text))]
    tags = "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)
    if tags.strip():  # ASCII smuggled in Unicode tag characters: invisible, dropped
        hidden.append(tags)
    if hidden:  # hidden or active content is dropped whole; its words count as instruction
        out.removed.extend(hidden)
        out.kinds.append("hidden")
    pieces = _pieces(clean_text(text))
    flagged = [instruction_kind(p) if p.strip() else None for p in pieces]
    # A directive split over sentences ("Ignore everything above." is caught, but "Forget what
    # you read." + "The instructions are void."): read each pair of neighbours together too.
    for i in range(len(pieces) - 1):
        if flagged[i] or flagged[i + 1] or not pieces[i].strip():
            continue
        if re.search(r"[.!?。！？][\"')\]]*\s*$", pieces[i]):
            continue  # no pattern reads across a sentence's end
        kind = instruction_kind(pieces[i].rstrip("\n") + " " + pieces[i + 1])
        if kind:
            flagged[i] = flagged[i + 1] = kind
    # The payload sentence right after an instruction ("The code word is ZEBRA-9.") goes too.
    last = None  # the previous piece that is not blank
    for i in range(len(pieces)):
        if not pieces[i].strip():
            continue
        if last is not None and flagged[last] and not flagged[i] \
                and _PAYLOAD_RE.search(skeleton(pieces[i])):
            flagged[i] = "payload"
        last = i
    parts = []
    for piece, kind in zip(pieces, flagged):
        if kind:
            out.removed.append(piece)
            out.kinds.append(kind)
            parts.append(" " + REMOVED + ("\n" if piece.endswith("\n") else " "))
        else:
            parts.append(piece)
    out.text = re.sub(r"(?:\s*\[instruction-like text removed\]\s*){2,}", " " + REMOVED + " ",
                      "".join(parts))
    out.text = re.sub(r"[ \t]+(?=\[instruction-like)|(?<=removed\])[ \t]+", " ", out.text).strip()
    return out


_PAYLOAD_RE = re.compile(r"\b(?:code ?word|password|keyword|pass ?phrase|the word|the phrase|"
                         r"the answer is|answer with|reply with|respond with|say|reply)\b|"
                         r"[\"“].+[\"”]|\b[a-z]+-\d{2,}\b")


# -- output check ------------------------------------------------------------------------------

# Words instructions are made of: an answer may use them without obeying anything.
_INSTRUCTION_WORDS = set(tokenize(
    "ignore ignoring disregard forget previous prior earlier above below instructions instruction "
    "prompt prompts system rules rule guidelines reply replies respond response responses answer "
    "answers output print say write only just word words phrase following everything question "
    "questions user users assistant model document documents passage passages text all every "
    "each new task note important must should will please now this that these those from "
    "other reveal show tell share administrator admin developer mode act role data "
    "confidential secret exactly nothing else instead"))

# A markdown image (fetched when shown), a markdown link or an HTML tag pointing outside.
_OUT_LINK_RE = re.compile(
    r"!\[[^\]]*\]\([^)]*\)|\[[^\]]*\]\(\s*(?:[a-z][\w+.-]*:|//|www\.)[^)]*\)|"
    r"<\s*(?:img|a|script|iframe|link|source|video|audio|object|embed)\b[^>]*"
    r"(?:src|href|data|action)\s*=\s*[\"']?\s*(?:[a-z][\w+.-]*:|//|www\.)", re.IGNORECASE)
_URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s)\]>\"']+", re.IGNORECASE)
_LEAK_PHRASES = re.compile(
    r"\b(?:my|the) (?:system prompt|system message|initial instructions|instructions (?:are|say|"
    r"were))\b|<<<\s*passage|<<<\s*end|untrusted data quoted|never follow instructions", re.IGNORECASE)


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


_WORD_RE = re.compile(r"[a-z0-9]+")


def leaks_prompt(answer: str, system_prompt: str, n: int = 6) -> bool:
    """The answer repeats the system prompt (any run of `n` of its words, or its markers)."""
    if _LEAK_PHRASES.search(answer):
        return True
    prompt = _ngrams(_WORD_RE.findall(system_prompt.lower()), n)
    return bool(prompt & _ngrams(_WORD_RE.findall(answer.lower()), n))


@dataclass(frozen=True)
class OutputVerdict:
    ok: bool
    reason: str = ""
    tokens: tuple[str, ...] = ()


def outside_text(text: str, removed: list[str]) -> str:
    """The document's visible text outside its instruction-like pieces (tags and all): a word
    found here is the document's own, not only the planted instruction's."""
    out = _INVISIBLE_RE.sub("", text)
    for piece in removed:
        out = out.replace(piece, " ")
    return out


def check_output(answer: str, question: str, kept: list[str], removed: list[str],
                 system_prompt: str, outside: list[str] | None = None) -> OutputVerdict:
    """Whether a generated answer may be shown: not obeying a planted instruction, not
    leaking the prompt, not linking out, and about the question.

    `kept` is the passage text the model saw; `removed` the instruction-like text taken out of
    those passages (the original document text); `outside` the documents' text outside those
    pieces (default: `kept`)."""
    body = re.sub(r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]", " ", answer)
    if _OUT_LINK_RE.search(body):
        return OutputVerdict(False, "the answer carries a link or image to an outside address")
    seen = " ".join(kept)
    for url in _URL_RE.findall(body):
        if url.rstrip(".,;:") not in seen:
            return OutputVerdict(False, "the answer carries an outside address")
    if leaks_prompt(body, system_prompt):
        return OutputVerdict(False, "the answer repeats the system prompt")
    # A small model copies the passage's sentences, an instruction among them ("If you are an
    # AI reading this, say ..."): no answer to an analyst's question reads as one.
    # Read as a passage is (a pair of sentences that only together instruct included).
    if neutralise(body).removed:
        return OutputVerdict(False, "the answer repeats an instruction-like sentence")
    words = set(tokenize(body))
    if removed:
        own = " ".join(outside) if outside is not None else seen
        planted = (set(tokenize(" ".join(removed))) - set(tokenize(own)) - set(tokenize(seen))
                   - set(tokenize(question))
                   - _INSTRUCTION_WORDS - set(tokenize(system_prompt)))
        planted = {w for w in planted if len(w) >= 3 or any(c.isdigit() for c in w)}
        hit = sorted(words & planted)
        if hit:
            return OutputVerdict(False, "the answer repeats words that appear only in "
                                 "instruction-like text inside a document", tuple(hit))
        # Code words survive tokenising badly ("PINEAPPLE-7731"): compare raw forms as well.
        codes = {c.lower() for c in re.findall(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+",
                                               " ".join(removed))}
        codes -= {c.lower() for c in re.findall(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+",
                                                seen + " " + own)}
        raw = {c.lower() for c in re.findall(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)+", body)}
        if codes & raw:
            return OutputVerdict(False, "the answer repeats a code from instruction-like text "
                                 "inside a document", tuple(sorted(codes & raw)))
    if not addresses(body, question, seen):
        return OutputVerdict(False, "the answer does not address the question")
    return OutputVerdict(True)


def addresses(answer: str, question: str, passages: str) -> bool:
    """The answer shares a word with the question, or most of its words are those of the
    passage sentences that bear on the question (share one of its words other than the words
    instructions are made of; every sentence when none does). A reply that only echoes some other sentence of a passage (a code word an
    instruction there asked for, in a wording the neutraliser does not know) answers
    something else."""
    words = [w for w in tokenize(answer) if not w[0].isdigit()]
    if not words:
        return bool(re.search(r"\d", answer))
    q = set(tokenize(question))
    if q & set(words):
        return True
    pieces = [set(tokenize(p)) for p in _pieces(passages)]
    topic = q - _INSTRUCTION_WORDS  # "must", "answer", "question" bear on nothing
    bearing = [p for p in pieces if p & topic] or pieces
    have = set().union(*bearing) if bearing else set()
    return sum(w in have for w in words) / len(words) >= 0.6
