"""Chat-model backends and the one registry that picks them by name.

- `local`: the embedded GGUF model through llama-cpp-python (offline, no key; the default)
- `openai`: any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, LM Studio, llama.cpp
  server, FastChat) through `langchain-openai`
- `ollama`: an Ollama server through `langchain-ollama`
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from rag.errors import RagError
from rag.llm.base import ChatModel, Message


class ProviderError(RagError):
    """A chat model could not be reached or configured."""


@dataclass(frozen=True)
class ModelConfig:
    """Which chat model to use: a provider name and its options."""

    provider: str = "local"
    model: str = ""
    base_url: str = ""
    api_key: str = field(default="", repr=False)  # never in logs or tracebacks
    timeout_s: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        if self.provider == "local":
            return f"local · {Path(self.model).name if self.model else 'embedded'}"
        return f"{self.provider} · {self.model}"


@dataclass
class GenerationStats:
    """What one local generation cost: prompt tokens, how many of them llama.cpp reused from
    its evaluated prefix (so were not evaluated again), and where the time went."""

    prompt_tokens: int = 0
    reused_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens llama.cpp reports it evaluated (its counters)
    prefill_s: float = 0.0  # llama.cpp's own prompt-evaluation time
    generated_tokens: int = 0
    generate_s: float = 0.0  # llama.cpp's own time generating the reply
    restored: bool = False  # a saved prefix state was loaded before the prompt

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "reused_tokens": self.reused_tokens,
                "evaluated_tokens": self.evaluated_tokens, "prefill_s": round(self.prefill_s, 3),
                "generated_tokens": self.generated_tokens,
                "generate_s": round(self.generate_s, 3), "restored": self.restored}


def _common_prefix(a: Any, b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaCppChat:
    """A GGUF model in-process via llama-cpp-python; one generation at a time.

    The prompt's fixed part (the system message and any fixed text after it) is evaluated
    once, not per question: llama.cpp keeps the evaluated tokens of the last prompt and only
    evaluates what differs after their common prefix. Because other prompts (a metric choice,
    a brief) run on the same model between two questions, the state after each kind of prompt
    (keyed by its system message) is also saved, and loaded again before the next prompt of
    that kind when it shares more tokens than what is in the model now (`prefix_states`
    states kept; 0 turns it off, llama.cpp's own last-prompt reuse stays)."""

    def __init__(self, model_path: Path, n_ctx: int = 4096, threads: int = 2,
                 prefix_states: int = 3) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - installed by the setup command
            raise ProviderError(
                "llama-cpp-python is not installed: run the README setup command"
            ) from exc
        self.name = f"local · {model_path.stem}"
        self.path = model_path
        self.n_ctx = n_ctx
        self._llm = Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=threads,
            n_threads_batch=threads, verbose=False, seed=0,
        )
        self._lock = threading.Lock()
        self.prefix_states = prefix_states
        # system message -> (evaluated tokens, llama.cpp state), oldest first
        self._states: dict[str, tuple[Any, bytes]] = {}
        self.last = GenerationStats()
        self._formatter = self._chat_formatter()

    def _chat_formatter(self) -> Any:
        """The GGUF's own chat template, so the prompt's tokens are known before generating."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        eos = self._llm.token_eos()
        bos = self._llm.token_bos()
        text = (lambda t: self._llm.detokenize([t], special=True).decode("utf-8", "replace")
                if t >= 0 else "")
        return Jinja2ChatFormatter(template=template, eos_token=text(eos), bos_token=text(bos),
                                   stop_token_ids=[eos])

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The tokens the model is given for `messages` (chat template applied)."""
        return self._format(messages)[0]

    def _format(self, messages: list[Message]) -> tuple[list[int], Any]:
        assert self._formatter is not None
        res = self._formatter(messages=[{"role": m.role, "content": m.content}
                                        for m in messages])
        tokens = self._llm.tokenize(res.prompt.encode("utf-8"),
                                    add_bos=not res.added_special, special=True)
        return tokens, res

    def _perf(self) -> tuple[int, float, int, float]:
        import llama_cpp

        p = llama_cpp.llama_perf_context(self._llm._ctx.ctx)
        return p.n_p_eval, p.t_p_eval_ms / 1000, p.n_eval, p.t_eval_ms / 1000

    def warm(self, messages: list[Message]) -> None:
        """Evaluate the fixed start of a kind of prompt now (at app start, in the background),
        so the first question of that kind only evaluates what is its own."""
        for _ in self.stream(messages, max_tokens=1):
            pass

    def _restore(self, key: str, tokens: list[int]) -> bool:
        """Load the saved state of this prompt kind when it shares more of `tokens` than what
        the model holds now (another kind of prompt ran in between)."""
        import llama_cpp

        state = self._states.get(key)
        if state is None:
            return False
        ids, data = state
        now = _common_prefix(self._llm._input_ids, tokens)
        saved = _common_prefix(ids, tokens)
        if saved <= now + 8:
            return False
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(self._llm._ctx.ctx, buf, len(data)) != len(data):
            self._llm.reset()  # a state that does not load: evaluate the prompt in full
            return False
        self._llm.input_ids[: len(ids)] = ids
        self._llm.n_tokens = len(ids)
        self._llm._requires_eval = True  # the suffix is evaluated before sampling
        return True

    def _save(self, key: str) -> None:
        """Keep the evaluated tokens of this prompt kind (llama.cpp's state: its KV cache of
        the tokens in the context, a few MB; not Llama.save_state, which also copies a
        logits buffer of up to n_batch x vocabulary floats, hundreds of MB)."""
        import llama_cpp

        if self.prefix_states <= 0:
            return
        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_get_data(ctx, buf, size)
        self._states.pop(key, None)
        self._states[key] = (self._llm._input_ids.copy(), ctypes.string_at(buf, n))
        while len(self._states) > self.prefix_states:
            self._states.pop(next(iter(self._states)))

    def stream(self, messages: list[Message], max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        if self._formatter is None:  # a GGUF without a chat template: llama.cpp's default
            yield from self._stream_chat(messages, max_tokens, temperature)
            return
        key = messages[0].content if messages and messages[0].role == "system" else ""
        tokens, res = self._format(messages)
        with self._lock:
            stats = GenerationStats(prompt_tokens=len(tokens))
            stats.restored = self.prefix_states > 0 and self._restore(key, tokens)
            # What llama.cpp will keep: the common prefix, less one token when it covers the
            # whole prompt (it replays one to get fresh logits).
            reuse = _common_prefix(self._llm._input_ids, tokens)
            stats.reused_tokens = min(reuse, len(tokens) - 1)
            p0, tp0, g0, tg0 = self._perf()
            parts = cast(Iterator[dict[str, Any]], self._llm.create_completion(
                prompt=tokens, max_tokens=max_tokens, temperature=temperature, top_p=1.0,
                repeat_penalty=1.05, stream=True, stop=res.stop,
                stopping_criteria=res.stopping_criteria,
            ))
            failed = False
            try:
                for part in parts:
                    text = part["choices"][0].get("text")
                    if text:
                        yield text
            except Exception as exc:  # noqa: BLE001 - every backend fails as ProviderError
                failed = True
                raise ProviderError(self._explain(exc)) from None
            finally:
                p1, tp1, g1, tg1 = self._perf()
                # llama.cpp's counters: prompt batches of more than one token count as prompt
                # evaluation; a one-token remainder counts as a generation step.
                single = 1 if p1 == p0 and len(tokens) - stats.reused_tokens == 1 else 0
                stats.evaluated_tokens = (p1 - p0) + single
                stats.prefill_s = tp1 - tp0
                stats.generated_tokens = max(0, (g1 - g0) - single)
                stats.generate_s = tg1 - tg0
                self.last = stats
                if not failed:
                    self._save(key)

    def _stream_chat(self, messages: list[Message], max_tokens: int,
                     temperature: float) -> Iterator[str]:
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            try:
                # stream=True: an iterator of chunks (the stubs have no overload saying so)
                parts = cast(Iterator[dict[str, Any]], self._llm.create_chat_completion(
                    messages=msgs,  # type: ignore[arg-type]  # plain dicts of llama_cpp's TypedDicts
                    max_tokens=max_tokens, temperature=temperature,
                    top_p=1.0, repeat_penalty=1.05, stream=True,
                ))
                for part in parts:
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            except Exception as exc:  # noqa: BLE001 - every backend fails as ProviderError
                raise ProviderError(self._explain(exc)) from None

    def _explain(self, exc: Exception) -> str:
        if "exceed context window" in str(exc):
            return (f"the question and its passages are longer than the local model's context "
                    f"window ({self.n_ctx} tokens): ask about fewer documents, or choose a "
                    "model with a longer context in Settings")
        return f"the local model failed: {type(exc).__name__}: {str(exc)[:200]}"


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (API key, token) replaced, whole or echoed in part."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "[redacted]")
            if len(s) >= 12:  # endpoints echo keys shortened: 'sk-abc...wxyz'
                text = text.replace(s[:8], "[redacted]").replace(s[-6:], "[redacted]")
    return text


_DONE = object()


def bounded(parts: Callable[[], Iterator[str]], first_s: float, total_s: float,
            where: str) -> Iterator[str]:
    """Pieces of `parts()` as they come, with a deadline for the first piece and one for the
    whole reply: an endpoint that never answers, or trickles forever, fails with a message."""
    import queue

    q: queue.Queue = queue.Queue(maxsize=256)
    stop = threading.Event()

    def pump() -> None:
        try:
            for p in parts():
                if stop.is_set():
                    return
                q.put(p)
            q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader below
            q.put(exc)

    threading.Thread(target=pump, daemon=True, name="llm-stream").start()
    t0 = time.monotonic()
    first = True
    try:
        while True:
            limit = (first_s if first else total_s) - (time.monotonic() - t0)
            if limit <= 0:
                raise queue.Empty
            try:
                item = q.get(timeout=limit)
            except queue.Empty:
                what = (f"sent no reply within {first_s:.0f} s" if first
                        else f"did not finish its reply within {total_s:.0f} s")
                raise ProviderError(f"the model endpoint at {where} {what}: it may be "
                                    "overloaded, or the URL points at something else") from None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            first = False
            yield item
    finally:
        stop.set()


class LangChainChat:
    """Any LangChain chat model, behind our protocol, with errors turned into messages."""

    def __init__(self, name: str, model: Any, where: str,
                 params: Callable[[int, float], dict[str, Any]] | None = None,
                 secrets: tuple[str, ...] = (), first_token_s: float = 60.0,
                 total_s: float = 300.0) -> None:
        self.name = name
        self._model = model
        self._where = where
        # How this client spells the length and temperature of one call.
        self._params = params or (lambda n, t: {"max_tokens": n, "temperature": t})
        self._secrets = secrets
        self._first_s, self._total_s = first_token_s, total_s

    def stream(self, messages: list[Message], max_tokens: int = 512,
               temperature: float = 0.0) -> Iterator[str]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        lc = [kinds[m.role](content=m.content) for m in messages]

        def parts() -> Iterator[str]:
            for chunk in self._model.stream(lc, **self._params(max_tokens, temperature)):
                text = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
                if text:
                    yield text

        try:
            yield from bounded(parts, self._first_s, self._total_s, self._where)
        except ProviderError as exc:
            raise ProviderError(redact(str(exc), self._secrets)) from None
        except Exception as exc:  # noqa: BLE001 - any client error becomes one message
            raise ProviderError(redact(_explain(exc, self._where), self._secrets)) from None


def _explain(exc: Exception, where: str) -> str:
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if any(s in low for s in ("connect", "resolve", "refused", "unreachable", "timed out",
                              "timeout", "name or service")):
        return f"cannot reach the model endpoint at {where}: check the URL and that it runs"
    if "401" in low or "auth" in low or "api key" in low or "api_key" in low:
        return f"the endpoint at {where} refused the API key: check it in Settings"
    if "404" in low or "not found" in low:
        return f"the endpoint at {where} does not know this model: check the model name"
    if any(s in low for s in ("jsondecode", "expecting value", "decode", "validationerror",
                              "not a valid", "unexpected content", "no generation chunks")):
        return (f"the endpoint at {where} sent a reply that is not a chat completion: is the "
                "URL an OpenAI-compatible API (it usually ends in /v1)?")
    return f"the model endpoint at {where} failed: {text[:200]}"


# Where a user-set endpoint may never point: link-local addresses, which include the cloud
# metadata services (169.254.169.254, AWS's fd00:ec2::254) that hand out the server's
# credentials. RAG_LLM_ALLOW_HOSTS (comma-separated host names or addresses) lifts it.
BLOCKED_NETS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
ALLOW_ENV = "RAG_LLM_ALLOW_HOSTS"


def endpoint_origin(url: str, default: str = "") -> str:
    """'https://host:port' of an endpoint URL (the port spelled out), for 'Requests go to'."""
    u = urlsplit((url or default).strip())
    if not u.scheme or not u.hostname:
        return (url or default).strip()
    try:
        port = u.port or {"https": 443, "http": 80}.get(u.scheme.lower())
    except ValueError:  # not a port number
        port = None
    host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
    return f"{u.scheme.lower()}://{host}" + (f":{port}" if port else "")


def _allowed_hosts() -> set[str]:
    raw = os.environ.get(ALLOW_ENV, "")
    return {h.strip().lower().strip("[]") for h in raw.replace(" ", ",").split(",") if h.strip()}


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # unresolvable: the client says it cannot reach it
    out = []
    for *_, sockaddr in infos:
        with contextlib.suppress(ValueError):
            out.append(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
    return out


def check_endpoint(url: str) -> str:
    """`url` if a chat request may be sent there; ProviderError otherwise: only http and
    https, a host, and no link-local or cloud-metadata address (after resolving the name)
    unless RAG_LLM_ALLOW_HOSTS names it."""
    url = (url or "").strip()
    u = urlsplit(url)
    if u.scheme.lower() not in ("http", "https"):
        raise ProviderError(f"the endpoint URL must start with http:// or https:// (got "
                            f"'{u.scheme or url[:20]}')")
    if not u.hostname:
        raise ProviderError(f"the endpoint URL '{url[:80]}' names no host")
    host = u.hostname.lower()
    if host in _allowed_hosts():
        return url
    for ip in _addresses(host):
        mapped = getattr(ip, "ipv4_mapped", None) or ip
        if any(mapped.version == n.version and mapped in n for n in BLOCKED_NETS):
            raise ProviderError(
                f"the endpoint {endpoint_origin(url)} is a link-local or cloud-metadata "
                f"address ({ip}): requests there are refused (an operator can allow the host "
                f"with {ALLOW_ENV})")
    return url


def _checked(cfg: ModelConfig, settings: Any, default: str = "") -> str:
    """The config's base URL, checked unless it is the one the operator configured."""
    url = cfg.base_url or default
    if url and url.strip() != (getattr(settings, "llm_base_url", "") or "").strip():
        check_endpoint(url)
    return url


def _make_local(cfg: ModelConfig, settings: Any) -> ChatModel:
    from rag.llm.local_model import resolve_local_model

    path = resolve_local_model(settings.models_dir, cfg.model or settings.local_model_path)
    return LlamaCppChat(path, n_ctx=settings.local_ctx, threads=settings.threads)


def _make_openai(cfg: ModelConfig, settings: Any) -> ChatModel:
    if not cfg.base_url and not cfg.api_key:
        raise ProviderError("OpenAI-compatible endpoint: set a base URL (and a key if it needs one)")
    if not cfg.model:
        raise ProviderError("OpenAI-compatible endpoint: set the model name")
    _checked(cfg, settings)
    import httpx
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    model = ChatOpenAI(model=cfg.model, base_url=cfg.base_url or None,
                       api_key=SecretStr(cfg.api_key or "not-needed"), max_retries=0,
                       timeout=httpx.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)))
    return LangChainChat(f"openai · {cfg.model}", model, cfg.base_url or "api.openai.com",
                         secrets=(cfg.api_key,), first_token_s=min(60.0, cfg.timeout_s),
                         total_s=max(cfg.timeout_s, 60.0))


def _make_ollama(cfg: ModelConfig, settings: Any) -> ChatModel:
    if not cfg.model:
        raise ProviderError("Ollama: set the model name (e.g. llama3.2)")
    from langchain_ollama import ChatOllama

    base = _checked(cfg, settings, "http://localhost:11434")
    model = ChatOllama(model=cfg.model, base_url=base, client_kwargs={"timeout": cfg.timeout_s})
    # Ollama takes sampling settings as `options` (a `max_tokens` keyword is a TypeError).
    return LangChainChat(f"ollama · {cfg.model}", model, base,
                         params=lambda n, t: {"options": {"num_predict": n, "temperature": t}},
                         first_token_s=min(60.0, cfg.timeout_s), total_s=max(cfg.timeout_s, 60.0))


PROVIDERS: dict[str, Callable[[ModelConfig, Any], ChatModel]] = {
    "local": _make_local,
    "openai": _make_openai,
    "ollama": _make_ollama,
}

PROVIDER_LABELS = {
    "local": "Embedded local model (offline, no key)",
    "openai": "OpenAI-compatible endpoint (OpenAI, Azure, vLLM, LM Studio, llama.cpp server)",
    "ollama": "Ollama",
}


def register(name: str, factory: Callable[[ModelConfig, Any], ChatModel]) -> None:
    """Add a backend (tests register fakes this way)."""
    PROVIDERS[name] = factory


def make_chat_model(cfg: ModelConfig, settings: Any) -> ChatModel:
    """Build the chat model a config names; raise ProviderError with a clear message."""
    factory = PROVIDERS.get(cfg.provider)
    if factory is None:
        raise ProviderError(
            f"unknown model provider '{cfg.provider}': choose one of {', '.join(PROVIDERS)}"
        )
    return factory(cfg, settings)


def config_from_settings(settings: Any) -> ModelConfig:
    return ModelConfig(
        provider=settings.llm_provider, model=settings.llm_model, base_url=settings.llm_base_url,
        api_key=settings.llm_api_key, timeout_s=settings.llm_timeout_s,
    )
