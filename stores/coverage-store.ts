// How often the sampler has drawn each node and made draws among each parent's children.
// It lets sampling up-weight nodes drawn less than their share, and measures coverage.
export class CoverageStore {
  private readonly drawn = new Map<string, number>();
  private readonly drawsUnder = new Map<string, number>();

  timesDrawn(nodeId: string): number {
    return this.drawn.get(nodeId) ?? 0;
  }

  drawsAmongChildren(parentId: string): number {
    return this.drawsUnder.get(parentId) ?? 0;
  }

  record(parentId: string, childId: string): void {
    this.drawn.set(childId, this.timesDrawn(childId) + 1);
    this.drawsUnder.set(parentId, this.drawsAmongChildren(parentId) + 1);
  }

  /** Nodes drawn at least once. */
  covered(): Set<string> {
    return new Set(this.drawn.keys());
  }
}
