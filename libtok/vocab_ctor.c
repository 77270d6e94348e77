/*
 * tok_from_vocab: a tokenizer from plain arrays (a GGUF file's
 * tokenizer.ggml.* keys, read by the engine), encoding as llama.cpp's
 * llama_tokenize does.
 *
 *  - BPE ("gpt2"): byte-level token strings become bytes (bytelevel.c), the
 *    merges become (left, right) -> rank pairs, and the pre-tokenizer is the
 *    list of regexes llama.cpp runs for the `pre` name, each a Split stage
 *    that keeps both matches and the text between them (llama.cpp's
 *    unicode_regex_split). The llama3 family also looks a whole piece up
 *    before merging (ignore_merges).
 *  - SPM ("llama"): the pieces go to spm_from_vocab; encoding dispatches to
 *    spm_encode per stretch of text between special tokens. llama.cpp puts a
 *    space in front of every such stretch (each follows the start of the text
 *    or a special token), which is SentencePiece's dummy prefix applied per
 *    stretch. The tokenizer's own vocabulary table holds each piece's bytes
 *    (U+2581 as ' ', <0xNN> as the byte) for tok_token_bytes/tok_token_id.
 *  - Control and unknown tokens are special tokens (matched only when the
 *    encode params allow it, as parse_special); user-defined tokens are
 *    always split out first, as llama.cpp's tokenizer_st_partition does.
 *  - BOS/EOS are the post-processor prefix/suffix (tok_encode_params.add_special).
 *
 * Cost: one pass over the tokens and merges, O(total bytes), at load time.
 */
#include <stdlib.h>
#include <string.h>

#include "bytelevel.h"
#include "spm.h"
#include "tokenizer.h"

const char *pretok_gpt2_pattern(void);

tok_vocab_params tok_vocab_default_params(void) {
    tok_vocab_params p;
    memset(&p, 0, sizeof p);
    p.kind = TOK_VOCAB_SPM;
    p.bos_id = p.eos_id = p.unk_id = p.pad_id = TOK_VOCAB_ID_DEFAULT;
    p.add_bos = p.add_eos = p.add_space_prefix = -1;
    return p;
}

/* ---- pre-tokenizers by llama.cpp name -------------------------------------- */

#define RE_LLAMA3_HEAD "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT2 "\001gpt2" /* stands for pretok_gpt2_pattern(), which has a fast matcher */

static const char *const re_gpt2[] = {RE_GPT2, NULL};
static const char *const re_llama3[] = {RE_LLAMA3_HEAD "\\p{N}{1,3}" RE_LLAMA3_TAIL, NULL};
static const char *const re_qwen2[] = {RE_LLAMA3_HEAD "\\p{N}" RE_LLAMA3_TAIL, NULL};
static const char *const re_starcoder[] = {"\\p{N}", RE_GPT2, NULL};
static const char *const re_falcon[] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL};
static const char *const re_default[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const re_deepseek_coder[] = {
    "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-\xED\x9F\xBF]+", /* [一-龥ࠀ-一가-퟿]+ */
    "\\p{N}", NULL};
/* OpenAI's o200k split (as pretok.c spells it, so its fast matcher applies) */
static const char *const re_gpt4o[] = {
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_deepseek3[] = {
    "\\p{N}{1,3}",
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+", /* [一-龥぀-ゟ゠-ヿ]+ */
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|"
    "\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
    NULL};
static const char *const re_bloom[] = {" ?[^(\\s|.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C)]+", NULL};
static const char *const re_viking[] = {" ?[^(\\s|.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C)]+", "\\p{N}", NULL};

typedef struct pre_def {
    const char *names; /* '|'-separated tokenizer.ggml.pre values */
    const char *const *regexes;
    bool ignore_merges, add_bos;
} pre_def;

/* The names and regexes of llama.cpp's llama-vocab.cpp (pre-tokenizer types). */
static const pre_def pre_defs[] = {
    {"default", re_default, false, false},
    {"llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2", re_llama3, true, true},
    {"gpt-2|phi-2|jina-es|jina-de|gigachat|jina-v2-es|jina-v2-de|a.x-4.0|mellum|mpt|olmo|jais|trillion|exaone4|"
     "jina-v1-en|jina-v2-code|roberta-bpe|granite-docling",
     re_gpt2, false, false},
    {"qwen2|deepseek-r1-qwen|kormo|stablelm2|megrez|hunyuan|grok-2", re_qwen2, false, false},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", re_starcoder, false, false},
    {"falcon", re_falcon, false, false},
    {"deepseek-coder", re_deepseek_coder, false, false},
    {"glm4|chatglm-bpe", re_llama3, false, false},
    {"poro-chat|bloom|gpt3-finnish", re_bloom, false, false},
    {"viking", re_viking, false, false},
    {"gpt-4o|llama4|minimax-m2", re_gpt4o, false, false},
    {"deepseek-v3|hunyuan-dense", re_deepseek3, false, false},
};

static const pre_def *find_pre(const char *name) {
    if (!name || !*name) name = "default";
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof pre_defs / sizeof *pre_defs; i++)
        for (const char *s = pre_defs[i].names; *s;) {
            const char *bar = strchr(s, '|');
            size_t k = bar ? (size_t)(bar - s) : strlen(s);
            if (k == n && !memcmp(s, name, n)) return &pre_defs[i];
            s += k + (bar != NULL);
        }
    return NULL;
}

/* ---- helpers --------------------------------------------------------------------- */

typedef struct ctor {
    const tok_vocab_params *p;
    const char *name;
    tok_tokenizer *t;
    tok_error *err;
    int16_t unbyte[512];
} ctor;

static size_t tok_len(const tok_vocab_params *p, size_t i) {
    return p->token_lens ? p->token_lens[i] : strlen(p->tokens[i]);
}

static int32_t type_of(const tok_vocab_params *p, size_t i) { return p->types ? p->types[i] : SPM_NORMAL; }

/* Tokens whose text llama.cpp treats as end-of-generation: it makes them
 * control tokens whatever the file says, so their text is not matched in
 * ordinary input either. */
static bool eog_looking(const char *s, size_t n) {
    static const char *const names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<EOT>", "_<EOT>", "<|eom_id|>", "<end_of_utterance>",
                                        "<|return|>", "<|call|>", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == n && !memcmp(names[i], s, n)) return true;
    return false;
}

/* Registers control/unknown (special) and user-defined (always matched) tokens. */
static int add_specials(ctor *c) {
    const tok_vocab_params *p = c->p;
    for (size_t i = 0; i < p->n_tokens; i++) {
        int32_t ty = type_of(p, i);
        size_t n = tok_len(p, i);
        if (ty != SPM_CONTROL && ty != SPM_UNKNOWN && ty != SPM_USER_DEFINED && !eog_looking(p->tokens[i], n))
            continue;
        if (!n) continue; /* llama.cpp cannot match an empty text either */
        bool special = ty != SPM_USER_DEFINED || eog_looking(p->tokens[i], n);
        int rc = tokenizer_add_special(c->t, p->tokens[i], n, (int32_t)i, special, c->err);
        if (rc) return rc;
    }
    return 0;
}

static int32_t resolve_id(ctor *c, int32_t id, int32_t dflt, const char *what, int *rc) {
    /* a default the vocabulary is too small for means none */
    if (id == TOK_VOCAB_ID_DEFAULT) return dflt >= 0 && (size_t)dflt < c->p->n_tokens ? dflt : -1;
    if (id < -1 || (id >= 0 && (size_t)id >= c->p->n_tokens)) {
        *rc = tok_fail(c->err, TOK_EFORMAT, "%s: %s %d is outside the vocabulary (%zu tokens)", c->name, what, id,
                       c->p->n_tokens);
        return -1;
    }
    return id;
}

static int push_id(int32_t **v, size_t *n, int32_t id, tok_error *err) {
    int32_t *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return tok_fail(err, TOK_ENOMEM, "out of memory");
    *v = nv;
    nv[(*n)++] = id;
    return 0;
}

/* BOS/EOS as the post-processor's prefix/suffix. */
static int set_bos_eos(ctor *c, int32_t bos, int32_t eos, bool add_bos, bool add_eos) {
    c->t->bos = bos;
    c->t->eos = eos;
    if (add_bos) {
        if (bos < 0) return tok_fail(c->err, TOK_EFORMAT, "%s: add_bos_token is set but there is no BOS token", c->name);
        int rc = push_id(&c->t->prefix, &c->t->n_prefix, bos, c->err);
        if (rc) return rc;
    }
    if (add_eos) {
        if (eos < 0) return tok_fail(c->err, TOK_EFORMAT, "%s: add_eos_token is set but there is no EOS token", c->name);
        return push_id(&c->t->suffix, &c->t->n_suffix, eos, c->err);
    }
    return 0;
}

/* ---- BPE -------------------------------------------------------------------------- */

static int build_bpe(ctor *c) {
    const tok_vocab_params *p = c->p;
    const pre_def *pre = find_pre(p->pre);
    if (!pre)
        return tok_fail(c->err, TOK_EUNSUPPORTED,
                        "%s: pre-tokenizer '%s' (tokenizer.ggml.pre) is not supported by this build", c->name, p->pre);
    for (const char *const *re = pre->regexes; *re; re++) {
        const char *pattern = strcmp(*re, RE_GPT2) ? *re : pretok_gpt2_pattern();
        int rc = pretok_add_regex(&c->t->pt, pattern, SPLIT_ISOLATED, 0, c->err);
        if (rc) {
            tok_error_prefix(c->err, "%s: pre-tokenizer '%s'", c->name, p->pre ? p->pre : "default");
            return rc;
        }
    }
    c->t->whole_lookup = pre->ignore_merges;
    bytelevel_unmap_init(c->unbyte);
    int rc = vocab_init(&c->t->v, (uint32_t)p->n_tokens, c->err);
    if (rc) return rc;
    size_t cap = 256;
    for (size_t i = 0; i < p->n_tokens; i++) {
        size_t n = tok_len(p, i);
        if (n + 1 > cap) cap = n + 1;
    }
    for (size_t i = 0; i < p->n_merges; i++) {
        size_t n = p->merge_lens ? p->merge_lens[i] : strlen(p->merges[i]);
        if (n + 1 > cap) cap = n + 1;
    }
    unsigned char *buf = malloc(cap * 2);
    if (!buf) return tok_fail(c->err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_tokens && !rc; i++) {
        size_t n = tok_len(p, i);
        int32_t ty = type_of(p, i);
        size_t k;
        /* llama.cpp shows control and user-defined tokens as their raw text */
        if (ty == SPM_CONTROL || ty == SPM_USER_DEFINED) {
            memcpy(buf, p->tokens[i], n);
            k = n;
        } else
            k = bytelevel_to_bytes(c->unbyte, p->tokens[i], n, buf, cap);
        bool dup = vocab_find(&c->t->v, buf, k) >= 0;
        rc = vocab_set(&c->t->v, (int32_t)i, buf, k, !dup, c->err);
        if (rc) tok_error_prefix(c->err, "%s: tokens[%zu]", c->name, i);
    }
    unsigned char *lb = buf, *rb = buf + cap;
    for (size_t i = 0; i < p->n_merges && !rc; i++) {
        const char *m = p->merges[i];
        size_t n = p->merge_lens ? p->merge_lens[i] : strlen(m);
        /* the first space after the first character separates the halves */
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!sp) {
            rc = tok_fail(c->err, TOK_EFORMAT, "%s: merges[%zu]: expected two symbols separated by a space", c->name, i);
            break;
        }
        size_t ln = bytelevel_to_bytes(c->unbyte, m, (size_t)(sp - m), lb, cap);
        size_t rn = bytelevel_to_bytes(c->unbyte, sp + 1, n - (size_t)(sp - m) - 1, rb, cap);
        int32_t li = vocab_find(&c->t->v, lb, ln), ri = vocab_find(&c->t->v, rb, rn), mi = -1;
        if (li >= 0 && ri >= 0 && ln + rn <= cap) {
            memmove(lb + ln, rb, rn); /* lb and rb are adjacent halves of buf */
            mi = vocab_find(&c->t->v, lb, ln + rn);
        }
        if (li < 0 || ri < 0 || mi < 0) {
            rc = tok_fail(c->err, TOK_EFORMAT, "%s: merges[%zu] \"%.*s\": a symbol or the merged token is not in the vocabulary",
                          c->name, i, (int)(n > 80 ? 80 : n), m);
            break;
        }
        rc = vocab_add_pair(&c->t->v, li, ri, (uint32_t)i, mi, c->err);
    }
    free(buf);
    if (rc) return rc;
    rc = add_specials(c);
    if (rc) return rc;
    int32_t bos = resolve_id(c, p->bos_id, -1, "bos_token_id", &rc);
    int32_t eos = rc ? -1 : resolve_id(c, p->eos_id, -1, "eos_token_id", &rc);
    if (rc) return rc;
    /* a default that the vocabulary cannot honour (no BOS) is dropped; an
     * explicit add_bos_token without BOS is an error */
    bool add_bos = p->add_bos >= 0 ? p->add_bos : pre->add_bos && bos >= 0;
    return set_bos_eos(c, bos, eos, add_bos, p->add_eos > 0);
}

/* ---- SPM --------------------------------------------------------------------------- */

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* A piece's bytes as text: <0xNN> byte pieces are the byte, U+2581 is ' '. */
size_t spm_piece_text(const char *s, size_t n, int32_t type, char *out) {
    if (type == SPM_BYTE && n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
        out[0] = (char)(hexval(s[3]) * 16 + hexval(s[4]));
        return 1;
    }
    if (type == SPM_CONTROL || type == SPM_UNKNOWN) {
        memcpy(out, s, n);
        return n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && !memcmp(s + i, "\xE2\x96\x81", 3)) {
            out[o++] = ' ';
            i += 3;
        } else
            out[o++] = s[i++];
    }
    return o;
}

static int build_spm(ctor *c) {
    const tok_vocab_params *p = c->p;
    size_t n = p->n_tokens;
    char **pieces = calloc(n ? n : 1, sizeof *pieces);
    int32_t *types = malloc((n ? n : 1) * sizeof *types);
    int rc = pieces && types ? 0 : tok_fail(c->err, TOK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        size_t k = tok_len(p, i);
        if (memchr(p->tokens[i], 0, k)) {
            rc = tok_fail(c->err, TOK_EFORMAT, "%s: tokens[%zu] contains a NUL byte", c->name, i);
            break;
        }
        if (!(pieces[i] = malloc(k + 1))) {
            rc = tok_fail(c->err, TOK_ENOMEM, "out of memory");
            break;
        }
        memcpy(pieces[i], p->tokens[i], k);
        pieces[i][k] = 0;
        int32_t ty = type_of(p, i);
        types[i] = ty >= SPM_NORMAL && ty <= SPM_BYTE ? ty : SPM_NORMAL; /* GGUF "undefined" */
    }
    int32_t bos = -1, eos = -1, unk = -1, pad = -1;
    if (!rc) bos = resolve_id(c, p->bos_id, 1, "bos_token_id", &rc);
    if (!rc) eos = resolve_id(c, p->eos_id, 2, "eos_token_id", &rc);
    if (!rc) unk = resolve_id(c, p->unk_id, 0, "unknown_token_id", &rc);
    if (!rc) pad = resolve_id(c, p->pad_id, -1, "padding_token_id", &rc);
    if (!rc) {
        spm_options o = spm_default_options();
        o.model_type = SPM_BPE;
        o.add_dummy_prefix = p->add_space_prefix != 0; /* default on */
        o.remove_extra_whitespaces = false;            /* llama.cpp's SPM path never removes any */
        o.bos_id = bos;
        o.eos_id = eos;
        o.unk_id = unk;
        o.pad_id = pad;
        for (size_t i = 0; i < n; i++)
            if (types[i] == SPM_BYTE) o.byte_fallback = true;
        c->t->spm = spm_from_vocab((const char *const *)pieces, p->scores, types, n, &o, c->err);
        if (!c->t->spm) {
            rc = c->err ? c->err->code : TOK_EFORMAT;
            if (c->err) tok_error_prefix(c->err, "%s", c->name);
        }
    }
    if (!rc) rc = vocab_init(&c->t->v, (uint32_t)n, c->err);
    char *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t k = strlen(pieces[i]);
        if (k + 1 > cap) {
            cap = 2 * (k + 1);
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = tok_fail(c->err, TOK_ENOMEM, "out of memory");
                break;
            }
            buf = nb;
        }
        size_t bl = spm_piece_text(pieces[i], k, types[i], buf);
        bool dup = vocab_find(&c->t->v, buf, bl) >= 0;
        rc = vocab_set(&c->t->v, (int32_t)i, buf, bl, !dup, c->err);
    }
    free(buf);
    for (size_t i = 0; pieces && i < n; i++) free(pieces[i]);
    free(pieces);
    free(types);
    if (!rc) rc = add_specials(c);
    if (!rc) rc = set_bos_eos(c, bos, eos, p->add_bos > 0 || (p->add_bos < 0 && bos >= 0), p->add_eos > 0);
    return rc;
}

/* Called by tok_encode for the text between special tokens: SentencePiece
 * encoding of that stretch (with its dummy prefix, see the file comment). */
int tokenizer_spm_encode(const tok_tokenizer *t, const char *text, size_t len, tok_ids *out, tok_error *err) {
    return spm_encode(t->spm, text, len, out, err);
}

int tokenizer_spm_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, tok_bytes *out,
                         tok_error *err) {
    int32_t *kept = NULL;
    if (skip_special) {
        kept = malloc((n ? n : 1) * sizeof *kept);
        if (!kept) return tok_fail(err, TOK_ENOMEM, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!tok_is_special(t, ids[i])) kept[k++] = ids[i];
        ids = kept;
        n = k;
    }
    int rc = spm_decode(t->spm, ids, n, out, err);
    free(kept);
    return rc;
}

/* ---- entry point ---------------------------------------------------------------------- */

tok_tokenizer *tok_from_vocab(const tok_vocab_params *p, tok_error *err) {
    if (!p || !p->n_tokens || !p->tokens) {
        tok_fail(err, TOK_EINVAL, "tok_from_vocab: no tokens given");
        return NULL;
    }
    if (p->kind != TOK_VOCAB_BPE && p->kind != TOK_VOCAB_SPM) {
        tok_fail(err, TOK_EINVAL, "tok_from_vocab: unknown vocabulary kind %d", p->kind);
        return NULL;
    }
    if (p->n_tokens > 16777216) {
        tok_fail(err, TOK_EFORMAT, "%s: %zu tokens is more than this build accepts", p->name ? p->name : "vocabulary",
                 p->n_tokens);
        return NULL;
    }
    for (size_t i = 0; i < p->n_tokens; i++)
        if (!p->tokens[i]) {
            tok_fail(err, TOK_EINVAL, "tok_from_vocab: tokens[%zu] is NULL", i);
            return NULL;
        }
    if (p->kind == TOK_VOCAB_BPE && p->n_merges && !p->merges) {
        tok_fail(err, TOK_EINVAL, "tok_from_vocab: n_merges without merges");
        return NULL;
    }
    ctor c = {p, p->name ? p->name : "vocabulary", NULL, err, {0}};
    c.t = tokenizer_new(c.name, "gguf", err);
    if (!c.t) return NULL;
    int rc = p->kind == TOK_VOCAB_BPE ? build_bpe(&c) : build_spm(&c);
    if (!rc) {
        /* llama_tokenize(parse_special=false): user-defined tokens matched,
         * control tokens only when allowed */
        c.t->added_always = true;
        rc = tokenizer_finish(c.t, err);
    }
    if (rc) {
        tok_free(c.t);
        return NULL;
    }
    return c.t;
}
