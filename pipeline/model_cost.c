/*
 * Which tokenizer counts a model's tokens, and what a request costs.
 *
 * Tokenizer families map to libtok tokenizers. Where the family's tokenizer
 * is public and ships with tok (OpenAI's tiktoken encodings) the count is
 * exact. Open-weights families (llama3, qwen2, mistral, ...) are exact when
 * the user's config names their tokenizer file ("tokenizer_files") or the
 * data directory holds tokenizers/FAMILY/tokenizer.json; without either, and for models with no public tokenizer at all (Claude 3+, Gemini,
 * Grok, ...), a stand-in encoding counts and the result is marked
 * approximate. The stand-ins are listed in STAND_INS and docs/registry.md.
 *
 * Cost follows the registry's billing rules: a long-context tier, when the
 * input exceeds its threshold, prices every token of the request; a dated
 * price change applies from its start date. Unknown prices stay unknown (-1),
 * never 0: a stale zero is the classic cost-tracker bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "registry_internal.h"
#include "tok_engine.h"

/* Families whose tokenizer ships with tok as a built-in encoding. */
static const struct {
    const char *family, *encoding;
} EXACT[] = {
    {"o200k_base", "o200k_base"},
    {"o200k_harmony", "o200k_base"}, /* harmony adds only special tokens: plain text counts as o200k_base */
    {"cl100k_base", "cl100k_base"},
    {"p50k_base", "p50k_base"},
    {"r50k_base", "r50k_base"},
};

/* Stand-ins when the family's tokenizer is not available: the public encoding
 * whose vocabulary is closest in construction (llama3 and qwen2 extend
 * cl100k's byte-level BPE; llama4, deepseek-v3 and the rest are counted with
 * the larger o200k vocabulary; Anthropic's own published tokenizer for
 * Claude models). All are estimates. */
static const struct {
    const char *family, *encoding;
} STAND_INS[] = {
    {"llama3", "cl100k_base"}, {"qwen2", "cl100k_base"}, {"llama2", "cl100k_base"},
    {"mistral-spm-v1", "cl100k_base"}, {"mistral-spm-v3", "cl100k_base"},
};

static bool looks_like_path(const char *s) {
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 5 && !strcmp(s + n - 5, ".json")) || (n > 5 && !strcmp(s + n - 5, ".gguf")) ||
           (n > 9 && !strcmp(s + n - 9, ".tiktoken")) || (n > 6 && !strcmp(s + n - 6, ".model"));
}

void tok_model_counting_for(const tok_registry *r, const tok_model_entry *m, tok_model_counting *out) {
    memset(out, 0, sizeof *out);
    const char *fam = m->tokenizer ? m->tokenizer : "unknown/approximate";
    if (m->local || (looks_like_path(fam) && strcmp(fam, "unknown/approximate"))) {
        snprintf(out->spec, sizeof out->spec, "%s", m->local ? m->id : fam);
        snprintf(out->note, sizeof out->note, "%s", m->local ? "the model file's own vocabulary" : "tokenizer file");
        return;
    }
    for (size_t i = r ? r->n_tokfiles : 0; i-- > 0;) /* the last file that names the family wins */
        if (!strcmp(r->tokfiles[i].family, fam)) {
            snprintf(out->spec, sizeof out->spec, "%s", r->tokfiles[i].path);
            snprintf(out->note, sizeof out->note, "%s tokenizer file from the config", fam);
            return;
        }
    /* a family tokenizer installed in the data directory */
    for (int i = 0; r && i < 3 && strcmp(fam, "unknown/approximate"); i++) {
        if (!r->data_dirs[i][0] || strchr(fam, '/') || strchr(fam, '.')) continue;
        char p[2300];
        snprintf(p, sizeof p, "%s/tokenizers/%s/tokenizer.json", r->data_dirs[i], fam);
        if (strlen(p) < sizeof out->spec && access(p, R_OK) == 0) {
            memcpy(out->spec, p, strlen(p) + 1);
            snprintf(out->note, sizeof out->note, "exact (%s tokenizer from the data directory)", fam);
            return;
        }
    }
    for (size_t i = 0; i < sizeof EXACT / sizeof *EXACT; i++)
        if (!strcmp(EXACT[i].family, fam)) {
            snprintf(out->spec, sizeof out->spec, "%s", EXACT[i].encoding);
            snprintf(out->note, sizeof out->note, "exact (%s)", fam);
            return;
        }
    const char *standin = "o200k_base";
    for (size_t i = 0; i < sizeof STAND_INS / sizeof *STAND_INS; i++)
        if (!strcmp(STAND_INS[i].family, fam)) standin = STAND_INS[i].encoding;
    if (!strcmp(fam, "unknown/approximate") && m->creator && !strcmp(m->creator, "anthropic"))
        standin = "claude_legacy";
    out->approximate = true;
    snprintf(out->spec, sizeof out->spec, "%s", standin);
    if (!strcmp(fam, "unknown/approximate"))
        snprintf(out->note, sizeof out->note, "approximate: no public tokenizer; counted with %s", standin);
    else
        snprintf(out->note, sizeof out->note,
                 "approximate: no %s tokenizer file (tokenizer_files, docs/registry.md); counted with %s", fam,
                 standin);
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

tok_tokenizer *tok_model_counting_load(const tok_model_counting *c, tok_error *err) {
    if (!ends_with(c->spec, ".gguf")) return tok_load(c->spec, err);
    tok_gguf *g = tok_gguf_open(c->spec, err);
    tok_tokenizer *t = g ? tok_gguf_tokenizer(g, err) : NULL;
    tok_gguf_close(g);
    return t;
}

bool tok_model_is_local(const char *name, const char **path) {
    if (!strncmp(name, "local:", 6) && name[6]) return *path = name + 6, true;
    if (ends_with(name, ".gguf")) return *path = name, true;
    return false;
}

int tok_model_local(const char *path, tok_model_entry *out, tok_error *err) {
    memset(out, 0, sizeof *out);
    tok_gguf *g = tok_gguf_open(path, err);
    if (!g) return -1;
    out->id = path;
    out->provider = "local";
    out->creator = "local";
    out->tokenizer = "gguf";
    out->tokenizer_basis = "mapped";
    out->origin = path;
    out->local = true;
    out->context_window = out->max_output_tokens = -1;
    out->input_per_mtok = out->output_per_mtok = 0;
    out->cached_input_per_mtok = out->cache_write_per_mtok = 0;
    const char *arch = tok_gguf_get_string(g, "general.architecture");
    char key[160];
    uint64_t ctx;
    snprintf(key, sizeof key, "%s.context_length", arch ? arch : "llama");
    if (tok_gguf_get_uint(g, key, &ctx)) out->context_window = (int64_t)ctx;
    tok_gguf_close(g);
    return 0;
}

/* The price of `tiers` for a request of `in` input tokens: the highest tier
 * whose threshold the input exceeds, else `base`. */
static double tiered(double base, const tok_price_tier *t, size_t n, int64_t in, bool *used) {
    double p = base;
    int64_t best = -1;
    for (size_t i = 0; i < n; i++)
        if (in > t[i].above_input_tokens && t[i].above_input_tokens > best) best = t[i].above_input_tokens, p = t[i].price;
    if (best >= 0 && base >= 0) *used = true;
    return base < 0 ? base : p;
}

tok_cost tok_model_cost(const tok_registry *r, const tok_model_entry *m, int64_t in, int64_t out,
                        const char *date) {
    tok_cost c = {-1, -1, -1, -1, -1, false};
    if (m->local) {
        c.input_price = c.output_price = c.input_usd = c.output_usd = c.total_usd = 0;
        return c;
    }
    double pin = m->input_per_mtok, pout = m->output_per_mtok;
    const tok_price_tier *tin = m->input_tiers, *tout = m->output_tiers;
    size_t nin = m->n_input_tiers, nout = m->n_output_tiers;
    /* a dated change that started after the registry's effective date and
       on or before `date` replaces the main prices */
    const reg_model *row = NULL;
    if (r && r->n && m >= &r->rows[0].info && m <= &r->rows[r->n - 1].info)
        row = (const reg_model *)((const char *)m - offsetof(reg_model, info));
    char today[11];
    if (!date) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(today, sizeof today, "%Y-%m-%d", &tm);
        date = today;
    }
    const price_set *best = NULL;
    for (size_t i = 0; row && i < row->n_changes; i++) {
        const price_set *ps = &row->changes[i];
        if (ps->kind != PS_START_DATE || strcmp(ps->start_date, date) > 0) continue;
        if (r->effective_as_of[0] && strcmp(ps->start_date, r->effective_as_of) <= 0) continue;
        if (!best || strcmp(ps->start_date, best->start_date) > 0) best = ps;
    }
    if (best) {
        pin = best->input, pout = best->output;
        tin = best->in_tiers, nin = best->n_in_tiers, tout = best->out_tiers, nout = best->n_out_tiers;
    }
    c.input_price = tiered(pin, tin, nin, in, &c.tiered);
    c.output_price = tiered(pout, tout, nout, in, &c.tiered);
    if (c.input_price >= 0) c.input_usd = (double)in * c.input_price / 1e6;
    if (c.output_price >= 0 && out >= 0) c.output_usd = (double)out * c.output_price / 1e6;
    if (c.input_usd >= 0 && c.output_usd >= 0) c.total_usd = c.input_usd + c.output_usd;
    return c;
}
