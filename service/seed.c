/* seed.c - placeholder until the demo data loader lands. */
#include <stdio.h>

#include "service/commands.h"

int cmd_seed(app *a, int argc, char **argv) {
    (void)a, (void)argc, (void)argv;
    fprintf(stderr, "patrold: seed: not built yet\n");
    return 1;
}
