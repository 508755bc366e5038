import { useState } from "react";

interface Props {
  order: Order;
}

export function OrderView({ order }: Props) {
  const [count, setCount] = useState(0);
  return <Panel title={order.id} onClick={() => setCount(count + 1)} />;
}

export const Panel = (props: PanelProps) => <div>{props.title}</div>;
