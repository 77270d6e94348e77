#!/usr/bin/env bash
# Tokenizer conformance through the CLI: tok's ids (and decoded text) equal
# tiktoken's, Hugging Face's and SentencePiece's on every reference record. Compact copies in tests/data always; the full
# suites of $SHARED when present.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
check="$PY tests/tools/conformance.py"
known=(--known tests/data/reference/known_failures.txt)
fail=0
for t in cl100k_base o200k_base r50k_base p50k_base claude_legacy; do
    $check "$TOK" $t tests/data/reference/$t --tiktoken "${known[@]}" || fail=1
done
for t in hf_gpt2 hf_llama3 hf_qwen2_5 hf_llama2 hf_bert_wordpiece hf_spm_unigram8k_nfkc; do
    $check "$TOK" tests/data/tokenizers/$t/tokenizer.json tests/data/reference/$t "${known[@]}" || fail=1
done
for m in tests/data/spm/spm_*.model; do
    $check "$TOK" "$m" "${m%.model}" "${known[@]}" || fail=1
done
if [ -d "${SHARED:-}/reference" ]; then
    for t in spm_bpe8k_bytefallback spm_bpe8k_llamastyle spm_llama2 spm_unigram8k_nfkc spm_unigram8k_identity_digits; do
        $check "$TOK" "$SHARED/tokenizers/$t/$t.model" "$SHARED/reference/$t" "${known[@]}" || fail=1
    done
    for t in cl100k_base o200k_base r50k_base p50k_base claude_legacy; do
        $check "$TOK" $t "$SHARED/reference/$t" --tiktoken "${known[@]}" || fail=1
    done
    for t in hf_gpt2 hf_llama3 hf_qwen2_5 hf_cl100k hf_o200k hf_deepseek_v3 hf_claude_legacy \
             hf_llama2 hf_mistral7b hf_gemma3 hf_spm_unigram8k_nfkc hf_bert_wordpiece; do
        $check "$TOK" "$SHARED/tokenizers/$t/tokenizer.json" "$SHARED/reference/$t" "${known[@]}" || fail=1
    done
else
    echo "shared reference suites not present: compact fixtures only"
fi
exit $fail
