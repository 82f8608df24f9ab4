// Moved to libs/testing (a benchmark, bench:attack, starts the same world); the e2e specs keep importing it from here.
export { ensureFreshBuild, startApiProcess, type ApiProcess } from '@app/testing';
