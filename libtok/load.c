/* tok_load: recognises a built-in name or a file's format and calls its loader. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

bool tiktoken_is_builtin(const char *name);

tok_tokenizer *tok_load(const char *spec, tok_error *err) {
    if (!spec || !*spec) {
        tok_fail(err, TOK_EINVAL, "no tokenizer given");
        return NULL;
    }
    if (tiktoken_is_builtin(spec)) return tiktoken_load_builtin(spec, err);
    size_t len;
    char *data = tok_read_file(spec, &len, err);
    if (!data) {
        if (!strchr(spec, '/') && !strchr(spec, '.'))
            tok_fail(err, TOK_EINVAL,
                     "unknown tokenizer '%s': not a built-in encoding (cl100k_base, o200k_base, p50k_base, "
                     "r50k_base, claude_legacy) and not a file", spec);
        return NULL;
    }
    tok_tokenizer *t = NULL;
    size_t k = strlen(spec);
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r')) i++;
    if (len == 0)
        tok_fail(err, TOK_EFORMAT, "%s: empty file", spec);
    else if (len >= 4 && !memcmp(data, "GGUF", 4))
        tok_fail(err, TOK_EUNSUPPORTED, "%s: GGUF vocabularies are loaded through the engine (tok encode -t FILE.gguf)", spec);
    else if (i < len && data[i] == '{')
        t = hf_json_load(spec, data, len, err);
    else if (k > 9 && !strcmp(spec + k - 9, ".tiktoken"))
        tok_fail(err, TOK_EINVAL,
                 "%s: a .tiktoken file needs its pre-tokenizer pattern: name an encoding whose regex it uses "
                 "(--pattern cl100k_base) or give the regex", spec);
    else if ((k > 6 && !strcmp(spec + k - 6, ".model")) || data[0] == 0x0A) {
        /* a SentencePiece ModelProto starts with field 1 (pieces): byte 0x0A */
        free(data);
        return spm_tokenizer_load(spec, err);
    } else
        tok_fail(err, TOK_EFORMAT, "%s: unknown tokenizer format (expected tokenizer.json, .tiktoken, .model or .gguf)", spec);
    free(data);
    return t;
}
