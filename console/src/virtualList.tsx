// A virtualized list: only the rows in view (plus a few either side) are in the DOM, at fixed
// heights inside one tall spacer, so 100k rows scroll as fast as 100. It is a listbox for the
// keyboard: arrows, Page Up/Down, Home and End move the selection (and scroll to it), Enter
// activates; screen readers hear each option's position in the whole list.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  /** Height of the scrolling viewport in pixels. */
  height: number;
  label: string;
  selected: number | null;
  onSelect: (index: number) => void;
  onActivate?: (index: number) => void;
  /** Called when the viewport comes within two screens of the end (to load the next page). */
  onNearEnd?: () => void;
  renderRow: (index: number) => ComponentChildren;
  idPrefix: string;
}

const OVERSCAN = 8;

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, height, selected } = props;
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + OVERSCAN);

  useEffect(() => {
    if (props.onNearEnd !== undefined && last >= count - Math.ceil((2 * height) / rowHeight)) props.onNearEnd();
  }, [last, count]);

  /** Scrolls the least needed to show row `index`. */
  const reveal = (index: number) => {
    const el = box.current;
    if (el === null) return;
    const top = index * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + height) el.scrollTop = top + rowHeight - height;
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (count === 0) return;
    const page = Math.max(1, Math.floor(height / rowHeight) - 1);
    const at = selected ?? -1;
    const moves: Record<string, number> = { ArrowDown: at + 1, ArrowUp: at - 1, PageDown: at + page, PageUp: at - page, Home: 0, End: count - 1 };
    if (e.key in moves) {
      e.preventDefault();
      const next = Math.min(count - 1, Math.max(0, moves[e.key]));
      props.onSelect(next);
      reveal(next);
    } else if (e.key === 'Enter' && selected !== null) {
      e.preventDefault();
      props.onActivate?.(selected);
    }
  };

  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div
        key={i}
        id={`${props.idPrefix}-${i}`}
        role="option"
        aria-selected={i === selected}
        aria-posinset={i + 1}
        aria-setsize={count}
        class={i === selected ? 'row selected' : 'row'}
        style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}
        onClick={() => props.onSelect(i)}
        onDblClick={() => props.onActivate?.(i)}
      >
        {props.renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      ref={box}
      class="vlist"
      role="listbox"
      tabIndex={0}
      aria-label={props.label}
      aria-activedescendant={selected !== null && selected >= first && selected < last ? `${props.idPrefix}-${selected}` : undefined}
      style={{ height: `${height}px` }}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
    >
      <div class="vlist-spacer" style={{ height: `${count * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
