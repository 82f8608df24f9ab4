import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PATH_METADATA } from '@nestjs/common/constants';
import { ACCESS_KEY } from './access.decorator';

/** Refuses to boot when a route has no access rule: forgetting one must fail at deploy, not in production. */
@Injectable()
export class RouteAccessCheck implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onApplicationBootstrap(): void {
    const missing: string[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || !wrapper.metatype) continue;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const handler = (proto as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
        if (this.reflector.get(PATH_METADATA, handler) === undefined) continue;
        if (this.reflector.getAllAndOverride(ACCESS_KEY, [handler, wrapper.metatype]) === undefined) {
          missing.push(`${wrapper.name}.${name}`);
        }
      }
    }
    if (missing.length)
      throw new Error(`routes without an access rule (use @Access or @Public): ${missing.join(', ')}`);
  }
}
