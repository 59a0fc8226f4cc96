"""CTranslate2 translating standard input as `evo-mt translate` does, for `bench --translate`.

Lines are cut into the run's sentencepiece pieces, translated in batches of 64 sentences
with the same beam (CTranslate2's length penalty 1 and its own maximum length, 256), and
joined back. Run as a process of its own: python -m evo_mt.evidence.ct2_translate MODEL SPM.
"""

from __future__ import annotations

import argparse
import sys
from typing import List


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="CTranslate2's model folder")
    parser.add_argument("sentencepiece", help="the run's sentencepiece model")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--inter-threads", type=int, default=1, help="batches translated at once")
    parser.add_argument("--intra-threads", type=int, default=0, help="threads in each (0: its default)")
    args = parser.parse_args(argv)
    import ctranslate2
    import sentencepiece

    from evo_mt.runtime.base.lines import stream_lines

    pieces = sentencepiece.SentencePieceProcessor(model_file=args.sentencepiece)
    translator = ctranslate2.Translator(
        args.model, device="cpu", inter_threads=args.inter_threads, intra_threads=args.intra_threads
    )
    lines = list(stream_lines(sys.stdin.buffer))
    sources = [pieces.encode(line, out_type=str) for line in lines]
    wanted = [i for i, source in enumerate(sources) if source]
    results = translator.translate_batch(
        [sources[i] for i in wanted], beam_size=args.beam, max_batch_size=args.batch_size
    )
    out = [""] * len(lines)
    for i, result in zip(wanted, results, strict=True):
        out[i] = pieces.decode(result.hypotheses[0])
    sys.stdout.write("".join(f"{line}\n" for line in out))


if __name__ == "__main__":
    main()
