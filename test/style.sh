#!/usr/bin/env bash
# test/style.sh — the layout rules of the C sources (src/, gpu/, test/kernels,
# test/bench) that pgindent and the project's .clang-format agree on, checked
# over every tracked file; prints TAP, one test per rule, and for each file
# that breaks a rule the lines that do.
#
#   bash test/style.sh            (or: bash test/run style)
#
# The rules: indentation by tabs (spaces only after them, to align); no
# trailing white space; braces on lines of their own (Allman), the return
# type of a function definition on a line of its own; the header comment
# naming its file; and src/ laid out exactly as pgindent lays it out
# (test/indent.py, with pg_bsd_indent: run "python3 test/indent.py" to fix
# what the last test prints).  The first five also hold for gpu/ and the
# C tests, which pgindent is not run over (CUDA, and programs built
# outside the server).
set -uo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files 'src/*.c' 'src/*.h' 'gpu/*.c' 'gpu/*.h' 'gpu/*.cu' \
	'test/kernels/*.[ch]' 'test/bench/*.[ch]' 2>/dev/null)
if [ ${#files[@]} -eq 0 ]; then
	# a copy of the tree without .git (test/run's, as root)
	mapfile -t files < <(find src gpu test/kernels test/bench -maxdepth 2 \( -name '*.[ch]' -o -name '*.cu' \) \
		! -path 'test/fuzz/*' | sort)
fi

n=0
failed=0
# check NAME CMD...: one TAP test; CMD prints the offending lines, if any
check() {
	local name=$1 out
	shift
	n=$((n + 1))
	out=$("$@")
	if [ -z "$out" ]; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"
		printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
}

echo "1..6"

# a line indented with a space before any tab, outside a comment's " *"
check "indentation by tabs" \
	grep -nHE '^ +[^ *]|^\t* +\t' "${files[@]}"

check "no trailing white space" \
	grep -nHE '[[:space:]]+$' "${files[@]}"

# "if (...) {", "} else", "else {", "do {" and the like (a macro's
# "do { \" is the usual exception)
check "braces on lines of their own" \
	grep -nHE '^\s*(if|for|while|switch)\b.*\)\s*\{\s*$|^\s*\}\s*else\b|^\s*else\s*\{|^\s*do\s*\{\s*$' \
	"${files[@]}"

# a definition "static int foo(...)" + "{": its name must start the line
check "return type on its own line" \
	awk 'FNR == 1 { prev = "" }
		/^\{/ && prev ~ /^[A-Za-z_][A-Za-z0-9_ \t*]*[ \t*][A-Za-z_][A-Za-z0-9_]*\(/ &&
			prev !~ /^[A-Za-z_][A-Za-z0-9_]*\(/ && prev !~ /^(typedef|struct|union|enum)[ \t]/ {
			print FILENAME ":" FNR - 1 ": " prev
		}
		{ prev = $0 }' "${files[@]}"

# the first file name in the first four lines is this file's
check "header comment names its file" \
	awk 'FNR == 1 { named = 0; base = FILENAME; sub(/.*\//, "", base) }
		FNR <= 4 && !named && match($0, /^ \*[ \t]+[A-Za-z0-9_]+\.(c|h|cu)([^A-Za-z0-9_.]|$)/) {
			named = 1
			name = substr($0, RSTART, RLENGTH)
			sub(/^ \*[ \t]+/, "", name)
			sub(/[^A-Za-z0-9_.]$/, "", name)
			if (name != base)
				print FILENAME ":" FNR ": names " name
		}' "${files[@]}"

# src/ as pgindent lays it out (a diff of what it would change)
n=$((n + 1))
if ! command -v pg_bsd_indent > /dev/null; then
	echo "ok $n - src/ laid out as pgindent would # SKIP pg_bsd_indent is not installed (Debian package pg-bsd-indent)"
elif out=$(/usr/bin/python3 test/indent.py --check 2>&1); then
	echo "ok $n - src/ laid out as pgindent would"
else
	echo "not ok $n - src/ laid out as pgindent would (python3 test/indent.py fixes it)"
	printf '%s\n' "$out" | head -40 | sed 's/^/#   /'
	failed=$((failed + 1))
fi

[ "$failed" -eq 0 ]
