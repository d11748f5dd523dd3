#!/usr/bin/env python3
"""make check-boundary: no Postgres function that can raise is called outside
the guard (docs/development.md, "Checking the boundary").

    check.py [-v] [--server POSTGRES_BINARY] OBJECT.o...

Reads x86-64 object files with binutils (objdump, c++filt) and fails (exit 1),
printing each offence as `function -> callee`, when:

  1. a function neither inside the guard nor C-shaped references (calls, or
     takes the address of) a Postgres function that can raise: a function
     the server binary exports and CANNOT_RAISE does not list. Inline
     Postgres code (DatumGetTextPP, CHECK_FOR_INTERRUPTS) counts where it
     was inlined.
  2. a function inside the guard (but pg::call's own frame, where the
     longjmp lands) or a C-shaped helper or callback has exception landing
     pads: it owns C++ objects whose destructors a longjmp would skip.
  3. C_SHAPED code is called from anything but C-shaped code and the
     extern "C" wrappers BATON_FUNCTION generates, or its address is taken
     (CALLBACKS' is, by design).

Inside the guard: the instantiations of baton::pg::call<...> that call
sigsetjmp (the lambda is usually inlined into them), then, to a fixed point,
every function only ever called directly and only from inside the guard (an
out-of-line lambda body, a helper it calls). A function whose address is
taken (a std::function's invoker, a callback) or that is also called from
elsewhere (a lambda called directly too, a std::sort comparator) is outside.
C-shaped: C_SHAPED and CALLBACKS, then likewise what only they call.

GCC's clones and split-off parts (.cold, .isra.0, .part.0) count as their
function. Not seen: calls through pointers (virtual calls included); C++
objects owned by a lambda inlined into pg::call (its frame owns some by
design). -v also lists what passed. Exit status 2: the checker could not run.
"""

import collections
import os
import re
import subprocess
import sys

# Postgres functions that cannot raise (ereport/elog ERROR or worse), so they
# may be called from any frame. Each was read in the PostgreSQL 15 source.
CANNOT_RAISE = {
    'ExceptionalCondition': 'assertion builds\' Assert: prints TRAP and abort()s, never longjmps',
    'GetCurrentTimestamp': 'utils/adt/timestamp.c: gettimeofday() and arithmetic',
    'hash_bytes_extended': 'src/common/hashfn.c: pure arithmetic on the bytes given',
    'pg_snprintf': 'src/port/snprintf.c (snprintf where <cstdio> did not #undef it): '
                   'formats into the caller\'s buffer, reports errors by its result',
    'SPI_getbinval': 'executor/spi.c: checks fnumber, then heap_getattr, which neither '
                     'detoasts nor reaches heap_getsysattr\'s elog for an attnum that check let through',
    'SPI_result_code_string': 'executor/spi.c: a constant string, or sprintf into a static buffer',
}

# Baton functions that call Postgres directly, raising included: no C++
# object lives in their frame when they do, nor in any frame below them.
# Matched on the demangled name without its parameters. Any function called
# only from these (or from their helpers) and owning no C++ objects is
# C-shaped too: _PG_init's define_settings, run_entry's raise.
C_SHAPED = {
    '_PG_init': 'called by Postgres when it loads the library',
    'baton_vacuum_worker_main': 'vacuum.cpp\'s background worker, called by Postgres by name in a '
                                'process of its own; an ERROR there ends the process',
    'baton::run_entry': 'called only by the extern "C" wrappers BATON_FUNCTION generates; '
                        'raises the final ERROR after its try/catch, ReThrowError or ereport',
}

# C-shaped functions that Postgres calls through a pointer baton gave it
# (their address is taken): no landing pads, no direct caller in baton.
CALLBACKS = {
    'baton::notify::(anonymous namespace)::at_xact_event': 'notify.cpp\'s transaction callback: at '
                                                           'PRE_COMMIT, NOTIFY the queues that have idle sessions',
    'baton::indexes::(anonymous namespace)::forget': 'indexes.cpp\'s relcache callback: an invalidation '
                                                      'of _jobs or one of its indexes makes the kept IndexInfos stale',
    '(anonymous namespace)::selftest_context': 'selftest.cpp\'s error context callback: errcontext() '
                                               'while Postgres reports an error raised under the guard',
}

GUARD_PREFIX = '_ZN5baton2pg4callI'  # baton::pg::call<...>(...)

SKIPPED = ('.debug', '.eh_frame', '.note', '.group', '.comment', '.gcc_except_table')
ABSOLUTE = ('R_X86_64_64', 'R_X86_64_32', 'R_X86_64_32S')  # a function pointer stored in data
BRANCH = re.compile(r'^(?:(?:notrack|bnd) )?(call|j[a-z]+)\b')
INSN = re.compile(r'^\s+([0-9a-f]+):\t([^\t]*)(.*)$')
RELOC = re.compile(r'([0-9a-f]+): (R_X86_64_\w+)\s+(\S+?)(?:([+-])0x([0-9a-f]+))?(?=\t|$)')
DATA_RELOC = re.compile(r'^([0-9a-f]+) (R_X86_64_\w+)\s+(\S+?)(?:([+-])0x([0-9a-f]+))?$')


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def base_name(sym):
    """A function's symbol without GCC's clone suffixes (.cold, .isra.0...)."""
    return sym.split('.', 1)[0] if not sym.startswith('.') else sym


def addend_of(sign, digits):
    return (-1 if sign == '-' else 1) * int(digits or '0', 16)


class Obj:
    """One object file: its functions, what each references, which have
    landing pads. refs: (function or None for data, target, 'call'|'addr')."""

    def __init__(self, path):
        self.path = path
        self.sections, self.code_sections = set(), set()
        headers = run('objdump', '-h', '-w', path)
        if 'file format elf64-x86-64' not in headers:
            raise RuntimeError(f'{path}: not an x86-64 ELF object, which is all this checker reads')
        for line in headers.splitlines():
            f = line.split()
            if len(f) >= 7 and f[0].isdigit():
                self.sections.add(f[1])
                if 'CODE' in line:
                    self.code_sections.add(f[1])
        self.funcs = collections.defaultdict(list)  # section -> sorted [(start, end, symbol)]
        self.binding = {}  # function symbol -> 'local' | 'global' (weak included)
        self.undefined = set()
        for line in run('objdump', '-t', '-w', path).splitlines():
            m = re.match(r'^([0-9a-f]+) (.{7}) (\S+)\t([0-9a-f]+) (.*)$', line)
            if not m:
                continue
            value, flags, section, size, name = m.groups()
            # newer objdump (binutils 2.44, Debian 13) prints .hidden before the name
            name = re.sub(r'^\.(?:hidden|protected|internal) ', '', name)
            if section == '*UND*':
                self.undefined.add(name)
            elif flags[6] == 'F':
                start = int(value, 16)
                self.funcs[section].append((start, start + int(size, 16), name))
                self.binding[name] = 'local' if flags[0] == 'l' else 'global'
        for lst in self.funcs.values():
            lst.sort()
        self.refs = []
        self.lsda = set()
        self._read_code()
        self._read_data()

    def func_at(self, section, offset, start_only=False):
        for start, end, name in self.funcs.get(section, ()):
            if start == offset or (not start_only and start < offset < end):
                return name
        return None

    def _target(self, sym, addend, pcrel, branch):
        """The function a relocation against sym+addend designates: one of
        this object's function symbols, an undefined name, or None. A branch
        may land anywhere in a function; an address must be its start (else
        it is a jump table's entry, a label, data)."""
        if sym in self.sections:
            return self.func_at(sym, addend + (4 if pcrel else 0), start_only=not branch)
        if sym in self.binding or sym in self.undefined:
            return sym
        return None

    def _read_code(self):
        if not self.code_sections:
            return
        sections = [a for s in sorted(self.code_sections) for a in ('-j', s)]
        out = run('objdump', '-d', '-r', '-w', '--no-show-raw-insn', *sections, self.path)
        section = func = None
        for line in out.splitlines():
            if line.startswith('Disassembly of section '):
                section = line[len('Disassembly of section '):].rstrip(':')
                continue
            m = re.match(r'^([0-9a-f]+) <(.*)>:$', line)
            if m:
                func = self.func_at(section, int(m.group(1), 16))
                if func is None:  # code under no function symbol: a function of its own
                    func = m.group(2)
                    self.binding.setdefault(func, 'local')
                continue
            m = INSN.match(line)
            if not m or func is None:
                continue
            insn, relocs = m.group(2), m.group(3)
            branch = BRANCH.match(insn)
            kind = 'call' if branch else 'addr'
            found = False
            for r in RELOC.finditer(relocs):
                found = True
                _, rtype, sym, sign, digits = r.groups()
                to = self._target(sym, addend_of(sign, digits), 'PC32' in rtype or 'PLT32' in rtype, branch)
                if to is not None:
                    self.refs.append((func, to, kind))
            if branch and not found:
                # A direct branch the assembler resolved: "call 1a0 <sym+0x10>".
                t = re.match(r'^\S+(?: \S+)?\s+([0-9a-f]+) <', insn)
                to = t and self.func_at(section, int(t.group(1), 16))
                if to and base_name(to) != base_name(func):
                    self.refs.append((func, to, 'call'))

    def _read_data(self):
        """Function addresses stored in data (vtables, .init_array, tables of
        function pointers), and which functions have landing pads."""
        section = last_fde = None
        for line in run('objdump', '-r', '-w', self.path).splitlines():
            m = re.match(r'^RELOCATION RECORDS FOR \[(.*)\]:$', line)
            if m:
                section, last_fde = m.group(1), None
                continue
            m = DATA_RELOC.match(line)
            if not m or section is None or section in self.code_sections:
                continue
            _, rtype, sym, sign, digits = m.groups()
            addend = addend_of(sign, digits)
            if section == '.eh_frame':
                # Each FDE names its function, then (if it has one) its
                # landing-pad table in .gcc_except_table.
                if sym in self.code_sections:
                    last_fde = self.func_at(sym, addend)
                elif sym in self.binding:
                    last_fde = sym
                elif sym == '.gcc_except_table' and last_fde:
                    self.lsda.add(last_fde)
            elif not section.startswith(SKIPPED) and rtype in ABSOLUTE:
                to = self._target(sym, addend, False, False)
                if to is not None:
                    self.refs.append((None, to, 'addr'))


def demangle(names):
    names = sorted(names)
    out = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True, check=True).stdout
    return dict(zip(names, out.split('\n')))


def short(demangled):
    """A function's demangled name without its parameters (baton::run_entry),
    or the whole name when it is not a plain function (a lambda's body...)."""
    d = demangled.replace('(anonymous namespace)', '\0')
    depth = 0
    for i, c in enumerate(d):
        if c in '<(':
            if c == '(' and depth == 0:
                break
            depth += 1
        elif c in '>)':
            depth -= 1
    else:
        return demangled
    # i: the parameters' '('; what follows them must not name a member.
    depth = 0
    for j in range(i, len(d)):
        depth += {'(': 1, ')': -1}.get(d[j], 0)
        if depth == 0:
            break
    if '::' in d[j:]:
        return demangled
    return d[:i].replace('\0', '(anonymous namespace)')


def postgres_functions(server):
    out = run('nm', '-D', '--defined-only', server)
    return {f[2] for f in (l.split() for l in out.splitlines()) if len(f) == 3 and f[1] in 'TtWi'}


def main(argv):
    server, verbose = None, False
    while argv and argv[0].startswith('-'):
        if argv[0] == '--server' and len(argv) >= 2:
            server, argv = argv[1], argv[2:]
        elif argv[0] == '-v':
            verbose, argv = True, argv[1:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    if server is None:
        pg_config = os.environ.get('PG_CONFIG') or '/usr/lib/postgresql/15/bin/pg_config'
        server = os.path.join(run(pg_config, '--bindir').strip(), 'postgres')
    pg = postgres_functions(server)
    stale = sorted(set(CANNOT_RAISE) - pg)
    if stale:
        raise RuntimeError(f'CANNOT_RAISE names functions {server} does not export: {stale}')

    objs = [Obj(p) for p in argv]

    # A node is a function with its clones; local symbols are per object.
    defined = {name: base_name(name) for o in objs for name, b in o.binding.items() if b == 'global'}

    def node(o, sym):
        if sym in o.binding:
            base = base_name(sym)
            # A local clone (.cold, .isra...) of a global function is that function.
            if o.binding[sym] == 'global' or o.binding.get(base) == 'global':
                return base
            return f'{o.path}:{base}'
        return defined.get(sym)  # another object's function, or None (not baton's)

    symbol = {}  # node -> its symbol (without clone suffix)
    callers = collections.defaultdict(set)  # node -> the nodes that call it
    address_taken = set()
    pg_refs = collections.defaultdict(set)  # node -> the Postgres functions it references
    pg_calls = set()  # (node, Postgres function) where the reference is a call
    other_calls = collections.defaultdict(set)  # node -> the other outside functions it calls
    landing_pads = set()
    for o in objs:
        for sym in o.binding:
            symbol.setdefault(node(o, sym), base_name(sym))
        landing_pads |= {node(o, s) for s in o.lsda}
        for frm, to, kind in o.refs:
            f, t = (node(o, frm) if frm else None), node(o, to)
            if t is None:
                if to in pg and f is not None:
                    pg_refs[f].add(to)
                    if kind == 'call':
                        pg_calls.add((f, to))
                elif kind == 'call' and f is not None:
                    other_calls[f].add(to)
            elif kind == 'call' and f is not None:
                if f != t:
                    callers[t].add(f)
            else:
                address_taken.add(t)
    nodes = set(symbol)
    names = demangle(set(symbol.values()))
    pretty = {n: names.get(symbol[n], symbol[n]) for n in nodes}
    callbacks = {n for n in nodes if short(pretty[n]) in CALLBACKS}
    cshaped_roots = {n for n in nodes if short(pretty[n]) in C_SHAPED} | callbacks
    entries = {n for n in nodes if f'pg_finfo_{symbol[n]}' in defined}  # BATON_FUNCTION's wrappers

    def closure(roots):
        """roots, and every function only ever called directly from them."""
        inside = set(roots)
        changed = True
        while changed:
            changed = False
            for n in sorted(nodes - inside - address_taken - cshaped_roots):
                if callers[n] and callers[n] <= inside:
                    inside.add(n)
                    changed = True
        return inside

    # The guard: pg::call's instantiations (the ones that call sigsetjmp),
    # then what only they call. The C-shaped code: C_SHAPED, then its helpers.
    guard = {n for n in nodes if symbol[n].startswith(GUARD_PREFIX)}
    guarded = closure({n for n in guard if '__sigsetjmp' in other_calls[n]})
    cshaped = closure(cshaped_roots) - guarded

    def by_name(ns):
        return sorted(ns, key=lambda n: pretty[n])

    problems = [f'{pretty[n]}: named pg::call, but without PG_TRY (no sigsetjmp)' for n in by_name(guard - guarded)]
    for n in by_name(nodes - guarded - cshaped):
        for callee in sorted(pg_refs[n] - set(CANNOT_RAISE)):
            note = '' if (n, callee) in pg_calls else '  (its address)'
            outside = ', '.join(pretty[c] for c in by_name(callers[n] - guarded - cshaped))
            if callers[n] & guarded or callers[n] & cshaped:
                where = 'inside pg::call' if callers[n] & guarded else 'from C-shaped code'
                also = f'also from {outside}' if outside else 'its address is taken too'
                note += f'  (called {where}, but {also})'
            problems.append(f'{pretty[n]} -> {callee}{note}')
    # pg::call's own frame may own C++ objects: the longjmp lands in it.
    for n in by_name((guarded - guard) & landing_pads):
        problems.append(f'{pretty[n]}: under pg::call, but owns C++ objects with destructors (landing pads)')
    for n in by_name((cshaped - cshaped_roots | callbacks) & landing_pads):
        problems.append(f'{pretty[n]}: C-shaped, but owns C++ objects with destructors (landing pads)')
    for n in by_name(cshaped_roots):
        for c in by_name(callers[n] - cshaped - entries):
            problems.append(f'{pretty[c]} -> {short(pretty[n])}  (C-shaped: only C-shaped code may call it)')
        if n in address_taken - callbacks:
            problems.append(f'{short(pretty[n])}: C-shaped, but its address is taken')

    if verbose:
        print('Inside the guard besides pg::call<...>:')
        for n in by_name(guarded):
            if n not in guard:
                print(f'  {pretty[n]}')
        print('C-shaped functions and the Postgres functions they call:')
        for n in by_name(cshaped):
            print(f'  {pretty[n]}: {" ".join(sorted(pg_refs[n]))}')
        print('CANNOT_RAISE functions called outside the guard:')
        for n in by_name(nodes - guarded - cshaped):
            for callee in sorted(pg_refs[n] & set(CANNOT_RAISE)):
                print(f'  {pretty[n]} -> {callee}')

    if problems:
        print(f'check-boundary: FAILED: {len(problems)} problem(s) at the C++/Postgres boundary:')
        for p in problems:
            print(f'  {p}')
        return 1
    inside = sum(len(pg_refs[n] - set(CANNOT_RAISE)) for n in guarded)
    print(f'check-boundary: ok: {len(objs)} objects, {len(nodes)} functions; {inside} references to Postgres '
          f'functions that can raise, all under pg::call ({len(guarded)} functions) or in C-shaped code')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        print(f'check-boundary: cannot check: {e}', file=sys.stderr)
        sys.exit(2)
