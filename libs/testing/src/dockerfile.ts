import { chmodSync, cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/** One COPY instruction: its sources (in the build context, or in the stage `from`) and where they land. */
export interface DockerCopy {
  from?: string;
  chmod?: string;
  sources: string[];
  /** Absolute in the image (resolved against the stage's WORKDIR). */
  dest: string;
  /** `./`, `.` or several sources: the sources land in it under their own names. */
  destIsDir: boolean;
}

export interface DockerStage {
  /** `FROM <base> [AS <name>]` */
  base: string;
  name?: string;
  workdir: string;
  copies: DockerCopy[];
  runs: string[];
  /** `ENV NAME=value` (one pair per instruction, as this Dockerfile writes them). */
  env: Record<string, string>;
  user?: string;
  cmd?: string;
}

/**
 * The instructions of a Dockerfile this project writes (FROM, WORKDIR, COPY, RUN, USER, CMD, ENV), by stage. Not a
 * general parser: line continuations and comments are handled, heredocs and ARG substitution are not (none is used).
 * Docker itself is not on every machine that runs the tests; this is what lets them check the image's layout.
 */
export function parseDockerfile(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [instruction, ...words] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    const stage = stages[stages.length - 1];
    switch (instruction.toUpperCase()) {
      case 'FROM':
        stages.push({ base: words[0], name: words[2], workdir: '/', copies: [], runs: [], env: {} });
        break;
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, rest);
        break;
      case 'COPY': {
        const flags = words.filter((w) => w.startsWith('--'));
        const paths = words.filter((w) => !w.startsWith('--'));
        const flag = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1];
        const dest = paths[paths.length - 1];
        stage.copies.push({
          from: flag('from'),
          chmod: flag('chmod'),
          sources: paths.slice(0, -1),
          dest: posix.resolve(stage.workdir, dest),
          destIsDir: dest.endsWith('/') || dest === '.' || paths.length > 2,
        });
        break;
      }
      case 'RUN':
        stage.runs.push(rest);
        break;
      case 'ENV': {
        const [name, ...value] = rest.split('=');
        stage.env[name] = value.join('=');
        break;
      }
      case 'USER':
        stage.user = rest;
        break;
      case 'CMD':
        stage.cmd = rest;
        break;
    }
  }
  return stages;
}

/**
 * Lays out the last stage of `dockerfile` under `target` from this checkout, as `docker build` would after the build
 * stage (which copies the whole context to its WORKDIR and builds there): every COPY of the final stage, its image path
 * kept under `target` (`/app/dist` → `<target>/app/dist`). `node_modules` is linked rather than copied (300 MB; it
 * still holds the devDependencies the image prunes). Returns the final stage.
 */
export function layOutFinalStage(repoRoot: string, dockerfile: string, target: string): DockerStage {
  const stages = parseDockerfile(dockerfile);
  const final = stages[stages.length - 1];
  for (const copy of final.copies) {
    const source = copy.from === undefined ? undefined : stages.find((s) => s.name === copy.from);
    if (copy.from !== undefined && !source) throw new Error(`COPY --from=${copy.from}: no such stage`);
    for (const src of copy.sources) {
      // From the build stage: its path under its WORKDIR is the checkout's path (it ran `COPY . .` there).
      const inRepo = source ? posix.relative(source.workdir, posix.resolve(source.workdir, src)) : src;
      const into = join(target, copy.dest, copy.destIsDir ? posix.basename(inRepo) : '');
      mkdirSync(dirname(into), { recursive: true });
      if (inRepo === 'node_modules') symlinkSync(join(repoRoot, inRepo), into);
      else cpSync(join(repoRoot, inRepo), into, { recursive: true });
      if (copy.chmod) chmodSync(into, parseInt(copy.chmod, 8));
    }
  }
  return final;
}
