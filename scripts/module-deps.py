#!/usr/bin/env python3
"""Module import graph of src/ (code lines only, tests excluded) and its cycles.

Usage: python3 scripts/module-deps.py top   (capabilities under src/)
       python3 scripts/module-deps.py peer  (files of src/net/peer/)
"""
import re,os,glob,sys
def graph(root, pkg_re, mods):
    g={}
    for m,path in mods.items():
        s=open(path).read().split('#[cfg(test)]')[0]
        code='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
        g[m]=sorted(set(x for x in re.findall(pkg_re, code) if x in mods and x!=m))
    return g
def cycles(g):
    found=set()
    def dfs(n,stack):
        for k in g[n]:
            if k in stack: found.add(tuple(stack[stack.index(k):]+[k]))
            elif len(stack)<12: dfs(k,stack+[k])
    for m in g: dfs(m,[m])
    return found
which=sys.argv[1]
if which=='peer':
    mods={os.path.basename(f)[:-3]:f for f in glob.glob('src/net/peer/*.rs') if not f.endswith('mod.rs')}
    g=graph('src/net/peer', r'(?:super|crate::net::peer)::(\w+)', mods)
else:
    mods={}
    for f in glob.glob('src/*'):
        n=os.path.basename(f).removesuffix('.rs')
        if n in ('lib','main'): continue
        mods[n]=f
    g={}
    for m,f in mods.items():
        files=[f] if f.endswith('.rs') else glob.glob(f+'/**/*.rs', recursive=True)
        deps=set()
        for p in files:
            s=open(p).read().split('#[cfg(test)]')[0]
            code='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
            deps|=set(re.findall(r'crate::(\w+)', code))
        g[m]=sorted(d for d in deps if d in mods and d!=m)
for m in sorted(g): print(f'{m:14} -> {", ".join(g[m])}')
c=cycles(g)
print('cycles:', sorted(c) if c else 'none')
