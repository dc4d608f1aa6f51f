"""CPU per call of moto (in-process, `mock_aws`) for the request shapes of the lag stage:
the bare floor's PutItem and one-attribute UpdateItem, an UpdateItem shaped like the store's
object write (SET of every attribute, if_not_exists, REMOVE, condition) and like the receipt
write, SendMessage bare and with ingest's four message attributes and group, and
ReceiveMessage of 10 on a queue of 600 with and without every attribute. Process CPU per
call (botocore's own work included, the same for every shape).

    .venv/bin/python infra/bench/moto-call-cost.py
"""
import time, boto3, json
from moto import mock_aws
N=[300]
@mock_aws
def main():
    ddb=boto3.client("dynamodb",region_name="us-east-1")
    ddb.create_table(TableName="t",KeySchema=[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
        AttributeDefinitions=[{"AttributeName":a,"AttributeType":"S"} for a in ["pk","sk","gsi1pk","gsi1sk","gsi2pk","gsi2sk","gsi3pk","gsi3sk"]],
        GlobalSecondaryIndexes=[{"IndexName":f"gsi{i}","KeySchema":[{"AttributeName":f"gsi{i}pk","KeyType":"HASH"},{"AttributeName":f"gsi{i}sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}} for i in (1,2,3)],
        BillingMode="PAY_PER_REQUEST")
    def t(name,f):
        # warm
        f(-1)
        s=time.process_time()
        for i in range(N[0]): f(i)
        print(f"{name:50s} {1000*(time.process_time()-s)/N[0]:.2f} ms/call")
    blob=b"x"*800
    t("floor PutItem (5 attrs, cond)",lambda i: ddb.put_item(TableName="t",Item={"pk":{"S":f"F#{i}"},"sk":{"S":"ORDER"},"gsi2pk":{"S":"T#floor"},"gsi2sk":{"S":f"{i}"},"body":{"B":blob}},ConditionExpression="attribute_not_exists(pk)"))
    t("floor UpdateItem receipt (SET 1, cond)",lambda i: ddb.update_item(TableName="t",Key={"pk":{"S":f"E#{i}"},"sk":{"S":"RECEIPT"}},UpdateExpression="SET #s = :s",ConditionExpression="attribute_not_exists(#s)",ExpressionAttributeNames={"#s":"state"},ExpressionAttributeValues={":s":{"S":"applied"}}))
    # packr-like object write: 30 attributes SET + created if_not_exists + REMOVE 3, condition
    def obj(i, nattr=30):
        names={}; values={}; sets=[]
        for n in range(nattr):
            names[f"#a{n}"]=f"attr{n}"; values[f":a{n}"]={"S":f"value-{n}-{i}"*2}
        names.update({"#a0":"gsi1pk","#a1":"gsi1sk","#a2":"gsi2pk","#a3":"gsi2sk","#a4":"gsi3pk","#a5":"gsi3sk"})
        sets=[f"#a{n} = :a{n}" for n in range(nattr)]
        sets.append("#created = if_not_exists(#created, :created)"); names["#created"]="created_us"; values[":created"]={"N":"1"}
        expr="SET "+", ".join(sets)+" REMOVE #r0, #r1, #r2"
        for k in range(3): names[f"#r{k}"]=f"opt{k}"
        names["#pk"]="pk"; names["#u"]="updated_us"; values[":u"]={"N":str(1000+i)}
        ddb.update_item(TableName="t",Key={"pk":{"S":f"O#{i}"},"sk":{"S":"ORDER"}},UpdateExpression=expr,ConditionExpression="attribute_not_exists(#pk) OR #u < :u",
            ExpressionAttributeNames=names,ExpressionAttributeValues=values,ReturnValuesOnConditionCheckFailure="ALL_OLD")
    t("packr-like object UpdateItem (SET 31, REMOVE 3, cond)",obj)
    t("same, 15 attributes",lambda i: obj(i+100000,15))
    def rcpt(i):
        ddb.update_item(TableName="t",Key={"pk":{"S":f"R#{i}"},"sk":{"S":"RECEIPT"}},
          UpdateExpression="SET tenant_id = :tenant, event_id = :event_id, connection_id = :connection, event_type = :event_type, received_at = if_not_exists(received_at, :received), updated_at = :now, #state = :state, expires_at = :exp REMOVE failure_reason, failure_permanent, failed_event, payload_omitted, gsi2pk, gsi2sk ADD processing_attempts :one",
          ConditionExpression="attribute_not_exists(#state) OR #state = :failed",
          ExpressionAttributeNames={"#state":"state"},
          ExpressionAttributeValues={":tenant":{"S":"t"},":event_id":{"S":f"e{i}"},":connection":{"S":"c"},":event_type":{"S":"order.updated"},":received":{"S":"2026"},":now":{"S":"2026"},":state":{"S":"applied"},":exp":{"N":"1"},":one":{"N":"1"},":failed":{"S":"failed"}})
    t("packr-like receipt UpdateItem",rcpt)
    sqs=boto3.client("sqs",region_name="us-east-1")
    q=sqs.create_queue(QueueName="q")["QueueUrl"]
    body="p"*1700
    attrs={k:{"DataType":"String","StringValue":"v"*30} for k in ["tenant_id","event_id","event_type","correlation_id"]}
    t("SendMessage bare",lambda i: sqs.send_message(QueueUrl=q,MessageBody=body))
    t("SendMessage 4 attrs + group id",lambda i: sqs.send_message(QueueUrl=q,MessageBody=body,MessageAttributes=attrs,MessageGroupId="t"))
    print('queue depth', 2*N[0]+2)
    def recv(all_attrs):
        def f(i):
            kw=dict(QueueUrl=q,MaxNumberOfMessages=10,VisibilityTimeout=0)
            if all_attrs: kw.update(MessageSystemAttributeNames=["All"],MessageAttributeNames=["All"])
            sqs.receive_message(**kw)
        return f
    N[0]=50
    t("ReceiveMessage 10, no attributes (queue 600)",recv(False))
    t("ReceiveMessage 10, All attributes (queue 600)",recv(True))
main()
