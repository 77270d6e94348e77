/* Registry options and model resolution shared by models, cost and count. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "registry_cli.h"

const char CLI_REGISTRY_HELP[] =
    "      --registry FILE    the model registry [data/registry/models.json]\n"
    "      --config FILE      overrides and additions [$TOK_CONFIG, else ~/.config/tok/models.json]\n"
    "      --no-config        ignore the overrides\n";

int cli_registry_opt(cli_registry_opts *o, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    if (cli_is_opt(a, "--registry")) return (o->registry = cli_opt_value(cmd, argc, argv, i)) ? 1 : -1;
    if (cli_is_opt(a, "--config")) return (o->config = cli_opt_value(cmd, argc, argv, i)) ? 1 : -1;
    if (!strcmp(a, "--no-config")) return o->no_config = true, 1;
    return 0;
}

/* The data directory beside the executable (build tree or install prefix),
 * as main.c finds the built-in encodings. */
static void exe_data_dir(char *dir, size_t n) {
    char exe[PATH_MAX];
    dir[0] = 0;
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return;
    exe[k] = 0;
    char *d = dirname(exe);
    const char *candidates[] = {"/../data", "/../share/tok", "/data"};
    for (size_t i = 0; i < 3; i++) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof probe, "%s%s/registry/models.json", d, candidates[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(probe, sizeof probe, "%s%s", d, candidates[i]);
            char real[PATH_MAX];
            const char *clean = realpath(probe, real) ? real : probe; /* messages show a clean path */
            if (strlen(clean) < n) memcpy(dir, clean, strlen(clean) + 1);
            return;
        }
    }
}

tok_registry *cli_registry_open(const char *cmd, const cli_registry_opts *o) {
    char dir[PATH_MAX + 32];
    exe_data_dir(dir, sizeof dir);
    tok_registry_params p = tok_registry_default_params();
    p.path = o->registry;
    p.data_dir = dir[0] ? dir : NULL;
    p.config_path = o->config;
    p.no_config = o->no_config;
    tok_error err = {0};
    tok_registry *r = tok_registry_open(&p, &err);
    if (!r) cli_error(cmd, "%s", err.msg);
    return r;
}

int cli_model_resolve(const char *cmd, const tok_registry *r, const char *name, cli_model *out) {
    memset(out, 0, sizeof *out);
    tok_error err = {0};
    const char *path;
    if (tok_model_is_local(name, &path)) {
        if (tok_model_local(path, &out->local, &err)) {
            cli_error(cmd, "%s", err.msg);
            return EXIT_RUNTIME;
        }
        out->m = &out->local;
    } else if (!r || !(out->m = tok_registry_find(r, name, &err))) {
        cli_error(cmd, "%s", r ? err.msg : "no model registry");
        return EXIT_RUNTIME;
    }
    tok_model_counting_for(r, out->m, &out->counting);
    return EXIT_OK;
}

const char *cli_usd(char *buf, size_t n, double usd, bool local) {
    if (local) snprintf(buf, n, "local");
    else if (usd < 0) snprintf(buf, n, "unknown");
    else if (usd > 0 && usd < 5e-7) snprintf(buf, n, "$%.1e", usd); /* never a misleading $0.000000 */
    else snprintf(buf, n, "$%.6f", usd);
    return buf;
}
