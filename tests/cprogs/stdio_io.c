/* stdio_io: write OUT through stdio (fwrite of TOTAL bytes in 4 KB chunks,
 * then LINES lines with fputs, a fprintf and putc loop), close it, then
 * read it back with fread, fgets and getc. Prints the byte counts.
 * usage: stdio_io OUT TOTAL LINES */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: stdio_io OUT TOTAL LINES\n");
        return 2;
    }
    long total = atol(argv[2]), lines = atol(argv[3]);
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    FILE *f = fopen(argv[1], "w");
    if (!f)
        return 1;
    long written = 0;
    while (written < total) {
        size_t n = total - written < (long)sizeof chunk ? (size_t)(total - written) : sizeof chunk;
        written += (long)fwrite(chunk, 1, n, f);
    }
    for (long i = 0; i < lines; i++)
        fputs("a line of text written with fputs\n", f); /* 34 bytes */
    int extra = fprintf(f, "%s %d\n", "printf", 42);
    for (int i = 0; i < 1000; i++)
        putc('p', f);
    if (fclose(f) != 0)
        return 1;
    f = fopen(argv[1], "r");
    if (!f)
        return 1;
    long got = 0;
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        got += (long)n;
    rewind(f);
    char line[128];
    long fg = 0;
    while (fgets(line, sizeof line, f))
        fg++;
    rewind(f);
    long gc = 0;
    while (getc(f) != EOF)
        gc++;
    fclose(f);
    printf("wrote %ld read %ld lines %ld getc %ld\n", written + lines * 34 + extra + 1000, got, fg, gc);
    return 0;
}
