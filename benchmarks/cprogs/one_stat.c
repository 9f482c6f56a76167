/* one_stat: a process that makes exactly one counted call, stat(PATH),
 * and exits. /bin/true makes none, so under the shim it never claims a
 * slot; this is the smallest process that does (per-exec cost with a
 * slot, and the 10,000-process scale test).
 *
 * usage: one_stat [PATH]   (default "."); exits 0 whether or not PATH exists.
 */
#include <sys/stat.h>

int main(int argc, char **argv)
{
    struct stat st;
    stat(argc > 1 ? argv[1] : ".", &st);
    return 0;
}
