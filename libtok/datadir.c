/* Where built-in encodings are found: $TOK_DATA_DIR, the directory set by the
 * caller (the CLI uses its executable's location), then the install prefix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char data_dir[4096];

void tok_set_data_dir(const char *dir) {
    snprintf(data_dir, sizeof data_dir, "%s", dir ? dir : "");
}

int tok_data_path(const char *rel, char *out, size_t out_size) {
    const char *dirs[3] = {getenv("TOK_DATA_DIR"), data_dir, TOK_DATADIR};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        snprintf(out, out_size, "%s/%s", dirs[i], rel);
        if (access(out, R_OK) == 0) return 0;
    }
    return -1;
}
