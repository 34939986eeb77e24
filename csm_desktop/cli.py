"""``csm-desktop``: the app with no arguments; ``say`` (and more) headless."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from csm_desktop import __version__
from csm_desktop.errors import CsmError, GenerationCancelled
from csm_desktop.marker import AI_MARKER
from csm_desktop.engine.accel import ACCELS
from csm_desktop.settings import DEFAULT_MODEL, DEFAULT_WHISPER, RECOGNIZERS
from csm_desktop.wording import count_of, noun_for


def _load_engine(args: argparse.Namespace):
    """The local engine the command asks for, with the Hugging Face token from the environment
    or the keyring; says so when it is the tiny test model."""
    from csm_desktop.services.models import load_csm_1b
    from csm_desktop.redaction import redact
    from csm_desktop.services.credentials import get_secret

    print(redact(f"Loading {args.model} ..."), file=sys.stderr)
    engine = load_csm_1b(args.device, model=args.model, token=get_secret("huggingface"), accel=args.accel,
                         on_progress=_print_download_progress)
    if engine.is_test_model:
        print("Note: this is a tiny test model with random weights; its output is noise.", file=sys.stderr)
    return engine


def _print_download_progress(p) -> None:
    """A download's progress on stderr: one line updated in place on a terminal, else a line
    for each file once it is here."""
    mb = 1e6
    if sys.stderr.isatty():
        print(f"\r  downloading {p.done / mb:,.0f} of {p.total / mb:,.0f} MB ({p.file})\x1b[K",
              end="\n" if p.done >= p.total else "", file=sys.stderr, flush=True)
    elif p.file_done >= p.file_size:
        print(f"  {p.file} ({p.file_size / mb:,.1f} MB) is here: {p.done / mb:,.1f} of {p.total / mb:,.1f} MB",
              file=sys.stderr)


def _say(args: argparse.Namespace) -> int:
    import torch

    from csm_desktop.audio import read_audio, write_audio
    from csm_desktop.dialogue.watermark import watermark
    from csm_desktop.engine import Segment

    if args.context and not args.i_have_consent:
        raise CsmError("--context imitates the voice in each clip. Add --i-have-consent to confirm that every "
                       "speaker in those clips has given you permission to use their voice.")
    gen = _load_engine(args)
    context = []
    for clip, transcript, speaker in args.context or []:
        try:
            spk = int(speaker)
        except ValueError:
            raise CsmError(f"--context speaker must be a number, got {speaker!r}.") from None
        context.append(Segment(speaker=spk, text=transcript, audio=read_audio(clip, gen.sample_rate)))

    chunks = []
    try:
        for chunk in gen.stream(
            args.text, args.speaker, context, max_audio_length_ms=args.max_ms,
            temperature=args.temperature, topk=args.topk, seed=args.seed,
        ):
            chunks.append(chunk)
            seconds = sum(c.numel() for c in chunks) / gen.sample_rate
            if sys.stderr.isatty():
                print(f"\r  {seconds:5.2f} s of audio", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    if sys.stderr.isatty():
        print(file=sys.stderr)
    audio = watermark(torch.cat(chunks), gen.sample_rate) if chunks else torch.zeros(0)
    audio = _checked_say(args, audio, gen.sample_rate, [s.audio for s in context if s.speaker == args.speaker])
    write_audio(args.output, audio, gen.sample_rate, comment=AI_MARKER)
    print(f"Wrote {args.output} ({audio.numel() / gen.sample_rate:.2f} s, {gen.sample_rate} Hz)", file=sys.stderr)
    return 0


def _checked_say(args: argparse.Namespace, audio, sample_rate: int, voice_clips: list):
    """Check ``say``'s take (voice activity, the words with ``--recognizer``, the voice against
    the speaker's ``--context`` clips) and say what was found; the take trimmed of leading
    silence and of non-speech past a natural tail unless ``--keep-silence``."""
    from csm_desktop.dialogue import vad
    from csm_desktop.dialogue.checks import check_take

    if audio.numel() == 0:
        return audio
    activity = vad.detect_speech(audio, sample_rate)
    voice = [(clip, sample_rate) for clip in voice_clips] or None
    check = check_take(audio, sample_rate, args.text, recognizer=_recognizer(args), voice_refs=voice,
                       activity=activity)
    print(f"Checks: {', '.join(check.problems) or 'no problems'} (score {check.score:.2f})", file=sys.stderr)
    if args.keep_silence or not activity.has_speech:
        return audio
    return vad.trim(audio, sample_rate, activity)[0]


def _recognizer(args: argparse.Namespace, should_stop=None):
    """The recognizer ``--recognizer`` names (the app's setting when not given); None for none.
    A Whisper model's first download shows its progress."""
    from csm_desktop.services.recognizers import make_recognizer
    from csm_desktop.settings import Settings

    kind = args.recognizer
    model = args.whisper_model
    if kind is None or model is None:
        settings = Settings.load()
        kind, model = kind or settings.recognizer, model or settings.whisper_model

    def downloading(p) -> None:
        print(f"\rDownloading the Whisper model: {p.done / 1e6:.0f} of {p.total / 1e6:.0f} MB", end="",
              file=sys.stderr, flush=True)

    return make_recognizer(kind, whisper_model=model, on_progress=downloading, should_stop=should_stop)


def _open_for_render(source: Path):
    """A project as it is, or a standalone script wrapped in a project kept in the user cache
    (so a rerun of the same script resumes from its takes)."""
    import hashlib

    from csm_desktop.dialogue.project import PROJECT_FILE, SUFFIX, Project, Speaker
    from csm_desktop.dialogue.script import parse_script
    from csm_desktop.paths import cache_dir

    if source.is_dir() and (source / PROJECT_FILE).is_file() or source.name == PROJECT_FILE or source.suffix == SUFFIX:
        return Project.open(source), True
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CsmError(f"{source} could not be read as a UTF-8 script ({exc}).") from None
    script = parse_script(text)
    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    folder = cache_dir() / "renders" / f"{digest}{SUFFIX}"
    project = Project.open(folder) if (folder / PROJECT_FILE).is_file() else Project.new()
    project.script_text = text
    project.speakers = [Speaker(name, csm_id) for name, csm_id in script.speaker_ids().items()]
    project.save(folder)
    return project, False


class _ProgressBar:
    """One line per script line on stderr: a bar over the line's maximum length, and seconds."""

    def __init__(self, max_ms: float, lines: list[int]) -> None:
        self.max_s = max_ms / 1000
        self.lines = lines  # the file's line number of each utterance: what errors say too
        self.tty = sys.stderr.isatty()

    def __call__(self, event) -> None:
        label = f"Line {self.lines[event.line]:>3} ({event.lines_done}/{event.lines_total})"
        if event.state == "rendering":
            if self.tty:
                filled = int(20 * min(1.0, event.seconds / self.max_s))
                bar = "#" * filled + "." * (20 - filled)
                print(f"\r{label} [{bar}] {event.seconds:5.2f} s", end="", file=sys.stderr, flush=True)
        elif event.state in ("done", "reused", "failed", "stopped"):  # "checked": summed up at the end
            detail = {"done": f"done, {event.seconds:.2f} s", "reused": "unchanged, take reused",
                      "failed": f"FAILED: {event.error}", "stopped": "stopped"}[event.state]
            print(f"\r{label} {detail}{' ' * 20}", file=sys.stderr)


MAX_PARALLEL = 64


def _parallel_workers(args: argparse.Namespace) -> int:
    """How many engines ``render`` uses, checked before anything is opened or loaded."""
    urls = args.remote or []
    parallel = args.parallel if args.parallel is not None else max(1, len(urls))
    if not 1 <= parallel <= MAX_PARALLEL:
        raise CsmError(f"--parallel must be from 1 to {MAX_PARALLEL}, not {parallel}.")
    if not urls and parallel > 1:
        raise CsmError("--parallel needs --remote: a local model renders one line at a time. Give the URL of a "
                       "remote engine with --remote URL, or leave --parallel out.")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise CsmError(f"--remote {url}: give the engine's URL, starting with https:// (or http://).")
    return parallel


def _render_engines(args: argparse.Namespace, parallel: int) -> list:
    """The engines ``render`` uses: ``parallel`` RemoteEngines over the ``--remote`` URLs in
    turn (a Cerebrium URL serves many replicas), or the one local model."""
    urls = args.remote or []
    if not urls:
        return [_load_engine(args)]
    from csm_desktop.redaction import redact_url
    from csm_desktop.services.credentials import get_secret
    from csm_desktop.services.remote import RemoteEngine

    token = get_secret("cerebrium")
    if not token:
        raise CsmError("--remote needs the API token of the remote engine: set CEREBRIUM_API_KEY, or store the "
                       "Cerebrium API key in the app (Settings > Credentials).")
    if parallel < len(urls):
        print(f"Note: --parallel {parallel} uses only the first {parallel} of the {len(urls)} --remote URLs.",
              file=sys.stderr)
    def say(text: str) -> None:  # cold starts and retries
        print(text, file=sys.stderr, flush=True)

    engines = [RemoteEngine(urls[n % len(urls)], token, on_status=say) for n in range(parallel)]
    print(f"Rendering on {', '.join(redact_url(u) for u in urls)} with {count_of(parallel, 'worker')}: scenes render at once, "
          "lines within a scene in order.", file=sys.stderr)
    return engines


def _render(args: argparse.Namespace) -> int:
    import threading

    from csm_desktop.dialogue.checking import problem_lines
    from csm_desktop.dialogue.export import ExportOptions, export_dialogue
    from csm_desktop.dialogue.parallel import render_parallel
    from csm_desktop.dialogue.takes import TakeStore
    from csm_desktop.dialogue.voices import VoiceLibrary

    parallel = _parallel_workers(args)
    project, is_project = _open_for_render(Path(args.source))
    settings = project.settings
    from csm_desktop.dialogue.project import MAX_SEED
    from csm_desktop.settings import BEST_OF, LINE_MS, TEMPERATURE, TOPK

    limits = {"max_line_ms": LINE_MS, "temperature": TEMPERATURE, "topk": TOPK, "seed": (0, MAX_SEED),
              "best_of": BEST_OF}
    for name, (low, high) in limits.items():
        value = getattr(args, name)
        if value is not None:
            if not low <= value <= high:  # NaN too
                raise CsmError(f"--{name.replace('_', '-')} must be from {low} to {high}, not {value}.")
            setattr(settings, name, value)
    if args.max_line_ms is not None:
        settings.cap_from_text = False  # the user set every line's cap
    output = Path(args.output)
    options = ExportOptions(format=output.suffix.lstrip(".").lower() or "wav")
    if args.stems:
        options.line_stems_dir = Path(args.stems) / "lines"
        options.speaker_stems_dir = Path(args.stems) / "speakers"
    options.subtitles = [Path(p) for p in args.subtitles or []]
    if options.format not in ("wav", "flac"):
        raise CsmError(f"{output.name}: the output must end in .wav or .flac.")

    library = VoiceLibrary() if any(s.clip_ids for s in project.speakers) else None
    if library is not None:
        _confirm_consent(project, library, args.i_have_consent)
    engines = _render_engines(args, parallel)
    if args.remote:
        engines[0].connect()  # wakes the deployment (a cold start is announced) and learns the model
        if engines[0].is_test_model:
            print("Note: the remote engine runs a tiny test model with random weights; its output is noise.",
                  file=sys.stderr)
    stop = threading.Event()
    recognizer = _recognizer(args, should_stop=stop.is_set)
    store = TakeStore(project.takes_dir, engines[0].sample_rate)

    def on_sigint(signum, frame):
        # The flag stops the render at its next frame even when the KeyboardInterrupt is lost
        # (raised inside a finaliser, where Python only prints it).
        stop.set()
        signal.default_int_handler(signum, frame)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    lines = [u.line for u in project.script().utterances]
    try:
        report = render_parallel(project, engines, library=library, on_progress=_ProgressBar(settings.max_line_ms, lines),
                                 should_stop=stop.is_set, recognizer=recognizer)
        if stop.is_set():
            raise KeyboardInterrupt
        problems = problem_lines(project, store)
        if args.redo_problems and problems:
            print(f"Rendering {count_of(len(problems), 'line')} with problems again (the better take is kept): "
                  f"{', '.join(str(lines[n]) for n in problems)}", file=sys.stderr)
            redo = render_parallel(project, engines, library=library, lines=sorted(problems), force=True,
                                   keep_better=True, on_progress=_ProgressBar(settings.max_line_ms, lines),
                                   should_stop=stop.is_set, recognizer=recognizer)
            # A line after a new take in its scene heard the old one: it renders again, as any
            # render would, so that what is exported is current.
            after = render_parallel(project, engines, library=library, should_stop=stop.is_set, recognizer=recognizer,
                                    on_progress=_ProgressBar(settings.max_line_ms, lines))
            if stop.is_set():
                raise KeyboardInterrupt
            for part in (redo, after):
                report.failed.update(part.failed)
                report.check_errors.update(part.check_errors)
    except KeyboardInterrupt:
        stop.set()
        project.save()
        print("\nStopped. Finished takes are kept; run the same command again to continue.", file=sys.stderr)
        return 130
    except CsmError:  # the engine failed (unreachable, refused): the lines it finished are kept
        project.save()
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    project.save()
    _print_checks(project, store, report, lines, args.redo_problems)
    if report.failed:
        print(f"{count_of(len(report.failed), 'line')} failed; nothing was exported. Fix them and run again.", file=sys.stderr)
        return 1
    written = export_dialogue(project, store, output, options)
    for path in written:
        print(f"Wrote {path}", file=sys.stderr)
    _sign_exports(project, store, library, written)
    if is_project:
        print(f"Takes are kept in {project.takes_dir}", file=sys.stderr)
    return 0


def _print_checks(project, store, report, lines: list[int], redone: bool) -> None:
    """What the takes' checks found: the lines whose chosen take has problems, and checks that
    could not be made."""
    from csm_desktop.dialogue.checking import problem_lines

    if report.check_errors:
        first = next(iter(report.check_errors.values()))
        print(f"{count_of(len(report.check_errors), 'take')} could not be checked: {first}", file=sys.stderr)
    problems = problem_lines(project, store)
    if not problems:
        return
    print(f"Checks: problems in {len(problems)} of {count_of(len(lines), 'line')}:", file=sys.stderr)
    for n, check in problems.items():
        print(f"  Line {lines[n]}: {', '.join(check.problems)} (score {check.score:.2f})", file=sys.stderr)
    if not redone:
        print("Run the same command with --redo-problems to render them again (the better take is kept).",
              file=sys.stderr)


def _check(args: argparse.Namespace) -> int:
    """Check one audio file against the line it should say; exit 0 whatever the verdict."""
    import json

    from csm_desktop.audio import load_audio
    from csm_desktop.dialogue.checks import MAX_DURATION_S, check_take, describe_check
    from csm_desktop.dialogue.vad import VAD_RATE
    from csm_desktop.dialogue.voice import VoiceProfile

    if not args.text.strip():
        raise CsmError("--text is empty: give the line the audio should say.")
    audio = load_audio(args.audio, VAD_RATE, max_seconds=MAX_DURATION_S).samples
    voice = None
    if args.voice:
        voice = VoiceProfile.from_clips((load_audio(p, VAD_RATE, max_seconds=MAX_DURATION_S).samples, VAD_RATE)
                                        for p in args.voice)
        if voice is None:
            raise CsmError("None of the --voice clips holds enough speech to compare with (half a second at least). "
                           "Give clips of the speaker talking.")

    check = check_take(audio, VAD_RATE, args.text, recognizer=_recognizer(args), voice_refs=voice)
    print(json.dumps(check.to_json(), indent=2, ensure_ascii=False) if args.json else describe_check(check))
    return 0


def _confirm_consent(project, library, confirmed: bool) -> None:
    """Every voice clip the project uses has its speaker's permission on record: recorded in the
    app when it was assigned, or now, with ``--i-have-consent`` (dated today)."""
    clips = [library.get(clip_id) for s in project.speakers for clip_id in dict.fromkeys(s.clip_ids)]
    missing = [c for c in clips if c.consent_at is None]
    if not missing:
        return
    names = ", ".join(c.name for c in missing)
    if not confirmed:
        raise CsmError(f"No consent is on record for the {noun_for(len(missing), 'voice clip')} {names}. Add --i-have-consent to confirm "
                       "that each speaker gave you permission to use their voice (recorded in the library with "
                       "today's date), or assign the clips in the app, which asks.")
    for clip in missing:
        library.record_consent(clip.id)
    print(f"Consent recorded for {names}.", file=sys.stderr)


def _sign_exports(project, store, library, written: list[Path]) -> None:
    """Content credentials on the exported files that can carry them; news of each on stderr."""
    from csm_desktop.services.content_credentials import CredentialNotice, sign_exports

    for line in sign_exports(written, project, store, library):
        prefix = "Note: " if isinstance(line, CredentialNotice) else ""
        print(f"{prefix}{line}", file=sys.stderr)


def _check_watermark(args: argparse.Namespace) -> int:
    """Per file: whether the AI watermark is in it, with the detector's confidence. Exit status:
    0 when every file was read, 1 when one could not be."""
    from csm_desktop.dialogue.watermark import check_file

    failed = 0
    for name in args.files:
        result = check_file(Path(name))
        failed += result.error is not None
        print(result.line(), flush=True)
    return 1 if failed else 0


def _serve(args: argparse.Namespace) -> int:
    import logging
    import secrets

    from csm_desktop.services.engine_server import EngineServer

    token = os.environ.get("CSM_SERVER_TOKEN")
    if not token:
        token = secrets.token_urlsafe(24)
        print(f"CSM_SERVER_TOKEN is not set; clients must send this token: {token}", file=sys.stderr)
    engine = _load_engine(args)
    # One line per refused, timed-out or vanished client; debug adds one per request.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = EngineServer(engine, token, args.host, args.port, timeout_s=args.timeout,
                          max_connections=args.max_connections)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Warning: listening on {args.host}: other machines can reach this server.", file=sys.stderr)
    print(f"Serving on {server.url} (POST /generate_audio, GET /health). Ctrl-C stops.", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _draft(args: argparse.Namespace) -> int:
    """Draft a script with Gemini: the script on stdout or into a file, what was fixed on stderr."""
    from csm_desktop.dialogue.drafting import check_request
    from csm_desktop.fileio import atomic_write_text
    from csm_desktop.services.gemini import GeminiClient
    from csm_desktop.settings import Settings

    output = Path(args.output) if args.output else None
    if output is not None and output.exists() and not args.force:
        raise CsmError(f"{output} already exists. Choose another file, or add --force to replace it.")
    check_request(args.prompt, (args.speakers or "").split(","), args.lines)  # before any key is asked for
    speakers = [s for s in (args.speakers or "").split(",") if s.strip()]
    client = GeminiClient(model=args.model or Settings.load().gemini_model)
    print("Drafting with Gemini ...", file=sys.stderr)
    draft = client.draft(args.prompt, speakers, args.lines)
    for note in draft.notes:
        print(f"Note: {note}", file=sys.stderr)
    if output is None:
        sys.stdout.write(draft.text)
        return 0
    atomic_write_text(output, draft.text)
    print(f"Wrote {output} ({draft.lines} lines: {', '.join(draft.speakers)})", file=sys.stderr)
    return 0


def _install_desktop(args: argparse.Namespace) -> int:
    """The app in the desktop's menus (a freedesktop .desktop entry and its icon), or out of them."""
    from csm_desktop.services import desktop_entry

    try:
        if args.uninstall:
            removed = desktop_entry.uninstall()
            for path in removed:
                print(f"Removed {path}", file=sys.stderr)
            if not removed:
                print("No CSM Desktop menu entry was installed.", file=sys.stderr)
            return 0
        written = desktop_entry.install()
    except OSError as exc:
        raise CsmError(f"The menu entry could not be written ({exc}). Check that {desktop_entry.data_home()} "
                       "is writable, or set XDG_DATA_HOME to a folder that is.") from None
    for path in written:
        print(f"Wrote {path}", file=sys.stderr)
    print("CSM Desktop is in your applications menu (some desktops show it after you log in again). "
          "csm-desktop PROJECT opens a project from a terminal.", file=sys.stderr)
    return 0


def _app(args: argparse.Namespace) -> int:
    try:
        from PySide6 import QtWidgets  # noqa: F401  (the window's toolkit, present or not)
    except ImportError as exc:
        print(f"The desktop window needs PySide6, which cannot be imported here ({exc}). Start the app with "
              "./run-app (it installs what it needs), or install PySide6==6.11.3 into this Python; the commands "
              "below work without it.", file=sys.stderr)
        build_parser().print_help(sys.stderr)
        return 1
    from csm_desktop.ui.app import run_app

    return run_app(projects=[str(Path(p).expanduser().resolve()) for p in getattr(args, "projects", [])])


def _add_engine_options(command: argparse.ArgumentParser) -> None:
    """The options :func:`_load_engine` reads."""
    command.add_argument("--model", default=DEFAULT_MODEL, help="hub repository id or local model folder")
    command.add_argument("--device", default=None,
                         help="cuda, mps, mlx (Apple Silicon) or cpu (default: best available)")
    command.add_argument("--accel", choices=ACCELS, default="auto",
                         help="frame speed-up: auto (CUDA graph on CUDA), off, graph or compile (slow first start)")


def _add_consent_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--i-have-consent", action="store_true", dest="i_have_consent",
                         help="confirm that every speaker whose voice clip is used gave you permission to use "
                              "their voice (recorded in the voice library with the date)")


def _add_recognizer_options(command: argparse.ArgumentParser, default: str | None = None) -> None:
    """The options :func:`_recognizer` reads."""
    told = f"default: {default}" if default else "default: the app's setting, none unless chosen"
    command.add_argument("--recognizer", choices=RECOGNIZERS, default=default,
                         help="check the words too: faster-whisper (downloaded on first use) or Gemini (Google API "
                              f"key); {told}")
    command.add_argument("--whisper-model", default=None, dest="whisper_model",
                         help=f"faster-whisper model: hub repository id or local folder (default {DEFAULT_WHISPER})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csm-desktop", description="Multi-speaker dialogue with CSM-1B. With no command, the window opens; "
        "csm-desktop PROJECT opens a project (a NAME.csmproj folder, or the project.json inside it).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")

    say = sub.add_parser("say", help="speak one line of text into a WAV file")
    say.add_argument("text")
    say.add_argument("--speaker", type=int, default=0, help="CSM speaker id (default 0)")
    say.add_argument("--context", nargs=3, action="append", metavar=("CLIP", "TRANSCRIPT", "SPEAKER"),
                     help="a voice clip, its transcript and its speaker id (repeatable)")
    _add_engine_options(say)
    say.add_argument("--seed", type=int, default=None)
    say.add_argument("--temperature", type=float, default=0.9)
    say.add_argument("--topk", type=int, default=50)
    say.add_argument("--max-ms", type=float, default=10_000, help="longest audio to generate (ms)")
    say.add_argument("-o", "--output", required=True, help="WAV file to write")
    _add_consent_option(say)
    say.add_argument("--keep-silence", action="store_true", dest="keep_silence",
                     help="write the take whole (default: leading silence and non-speech after the words cut)")
    _add_recognizer_options(say)
    say.set_defaults(func=_say)

    render = sub.add_parser("render", help="render a script or project to an audio file")
    render.add_argument("source", help="a script (.txt) or a project folder (NAME.csmproj)")
    render.add_argument("-o", "--output", required=True, help="the dialogue as .wav or .flac")
    _add_engine_options(render)
    render.add_argument("--subtitles", action="append", metavar="OUT.srt|OUT.vtt", help="subtitles (repeatable)")
    render.add_argument("--stems", metavar="DIR", help="write per-line and per-speaker stems into DIR")
    render.add_argument("--max-line-ms", "--max-ms", type=int, default=None, dest="max_line_ms",
                        help="longest audio every line may have (ms; default: from each line's text); --max-ms as in "
                             "say")
    render.add_argument("--seed", type=int, default=None)
    render.add_argument("--temperature", type=float, default=None)
    render.add_argument("--topk", type=int, default=None)
    render.add_argument("--remote", action="append", metavar="URL",
                        help="render on a remote engine (csm-desktop serve, Cerebrium) instead of a local model; "
                             "token from CEREBRIUM_API_KEY or the keyring (repeatable)")
    render.add_argument("--parallel", type=int, default=None, metavar="N",
                        help=f"render N scenes at once over the --remote URLs in turn (1 to {MAX_PARALLEL}; "
                             "default: one per URL)")
    _add_consent_option(render)
    render.add_argument("--best-of", type=int, default=None, dest="best_of", metavar="N",
                        help="render N candidates of each line (1 to 8) and use the best-scoring one; all are kept "
                             "(default: the project's setting, 1)")
    render.add_argument("--redo-problems", action="store_true", dest="redo_problems",
                        help="then render the lines whose take has problems again, with a new seed, keeping the "
                             "better take (and the lines after them in their scene, whose context changed)")
    _add_recognizer_options(render)
    render.set_defaults(func=_render)

    check = sub.add_parser("check", help="check an audio file against the line it should say (exit 0 whatever "
                                         "the verdict)")
    check.add_argument("audio", help="the audio file (WAV, FLAC, OGG or MP3)")
    check.add_argument("--text", required=True, help="the line the audio should say")
    check.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    _add_recognizer_options(check, default="none")
    check.add_argument("--voice", action="append", metavar="CLIP",
                       help="a clip of the speaker's voice to compare with (repeatable)")
    check.set_defaults(func=_check)
    check = sub.add_parser("check-watermark", help="say whether audio files carry the AI watermark",
                           description="Reads each file (WAV, FLAC, MP3, Ogg/Opus) and says whether it carries the "
                                       "inaudible AI watermark every CSM Desktop take carries (Resemble's PerTh), "
                                       "with the detector's confidence (0 to 1; 0.5 and above: present).")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=_check_watermark)

    draft = sub.add_parser("draft", help="draft a dialogue script with Gemini (key: GOOGLE_API_KEY or the keyring)")
    draft.add_argument("prompt", help="what the dialogue is about: who talks, about what, in what mood")
    draft.add_argument("--speakers", metavar="NAMES", help="comma-separated names, e.g. Alice,Bob (default: Gemini "
                                                          "chooses)")
    draft.add_argument("--lines", type=int, default=12, metavar="N", help="how many lines (1 to 200; default 12)")
    draft.add_argument("--model", default=None, help="Gemini model (default: the one in Settings)")
    draft.add_argument("-o", "--output", help="script file to write (default: print the script)")
    draft.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    draft.set_defaults(func=_draft)

    desktop = sub.add_parser("install-desktop", help="add CSM Desktop to the applications menu (a freedesktop "
                                                     ".desktop entry and icon under ~/.local/share)")
    desktop.add_argument("--uninstall", action="store_true", help="remove the entry and the icon again")
    desktop.set_defaults(func=_install_desktop)

    serve = sub.add_parser("serve", help="serve the engine over HTTP (token from CSM_SERVER_TOKEN)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--timeout", type=float, default=20.0,
                       help="seconds a client has to send a request and to take the answer (default: 20)")
    serve.add_argument("--max-connections", type=int, default=32, dest="max_connections",
                       help="connections served at once; more get 503 at once (default: 32)")
    _add_engine_options(serve)
    serve.set_defaults(func=_serve)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices}


def main(argv: Sequence[str] | None = None) -> int:
    from csm_desktop import redaction

    redaction.install()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in _subcommands(parser):
        args = argparse.Namespace(projects=argv)  # csm-desktop PROJECT...: the window opens it
    else:
        args = parser.parse_args(argv)
    func = getattr(args, "func", _app)
    try:
        return func(args)
    except GenerationCancelled:
        print("Stopped.", file=sys.stderr)
        return 130
    except CsmError as exc:
        print(redaction.redact(f"Error: {exc}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
