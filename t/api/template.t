# Static checks of template.yaml, the CloudFormation stack: every reference
# names a parameter, a resource or a pseudo parameter; the function, the HTTP
# API and its routes, the outbox schedule, the permissions and the log group
# are wired together; secrets are NoEcho; the function's environment uses the
# variable names Kairos reads. No AWS account is involved.
use strict;
use warnings;

use File::Basename qw(dirname);
use JSON::PP;
use Test::More;

BEGIN {
    eval { require YAML::Tiny; 1 }
      or die "YAML::Tiny is missing: run sh etc/install-deps.sh (Debian package libyaml-tiny-perl)\n";
}

my $path = dirname(__FILE__) . '/../../template.yaml';
my $yaml = YAML::Tiny->read($path) or die "cannot parse $path: " . YAML::Tiny->errstr . "\n";
my $t = $yaml->[0];
my %params = %{ $t->{Parameters} // {} };
my %res = %{ $t->{Resources} // {} };
my %pseudo = map { $_ => 1 } qw(AWS::AccountId AWS::NotificationARNs AWS::NoValue AWS::Partition AWS::Region
  AWS::StackId AWS::StackName AWS::URLSuffix);

sub props { return $res{ $_[0] }{Properties} // {} }

# Collects every Ref, Fn::GetAtt and ${...} of Fn::Sub below a node.
sub references {
    my ($node, $out) = @_;
    if (ref $node eq 'HASH') {
        for my $key (keys %$node) {
            my $v = $node->{$key};
            if ($key eq 'Ref') {
                push @{ $out->{ref} }, $v;
            } elsif ($key eq 'Fn::GetAtt') {
                push @{ $out->{getatt} }, ref $v eq 'ARRAY' ? $v : [ split /\./, $v, 2 ];
            } elsif ($key eq 'Fn::Sub') {
                my $text = ref $v eq 'ARRAY' ? $v->[0] : $v;
                while ($text =~ /\$\{([^!}][^}]*)\}/g) {
                    my ($name, $attr) = split /\./, $1, 2;
                    push @{ $out->{ref} }, $name unless defined $attr;
                    push @{ $out->{getatt} }, [ $name, $attr ] if defined $attr;
                }
            }
            references($v, $out);
        }
    } elsif (ref $node eq 'ARRAY') {
        references($_, $out) for @$node;
    }
    return $out;
}

sub of_type {
    my ($type) = @_;
    return sort grep { $res{$_}{Type} eq $type } keys %res;
}

is $t->{AWSTemplateFormatVersion}, '2010-09-09', 'template format version';

subtest 'references resolve' => sub {
    my $refs = references({ Resources => \%res, Outputs => $t->{Outputs} }, { ref => [], getatt => [] });
    ok @{ $refs->{ref} } > 10, 'found the references';
    for my $name (@{ $refs->{ref} }) {
        ok exists $params{$name} || exists $res{$name} || $pseudo{$name}, "Ref $name names a parameter or resource";
    }
    for my $pair (@{ $refs->{getatt} }) {
        ok exists $res{ $pair->[0] }, "GetAtt $pair->[0].$pair->[1] names a resource";
    }
    my %used = map { $_ => 1 } @{ $refs->{ref} };
    ok $used{$_}, "parameter $_ is used" for sort keys %params;
    for my $name (sort keys %res) {
        my $deps = $res{$name}{DependsOn} // [];
        ok exists $res{$_}, "$name depends on an existing resource $_" for ref $deps ? @$deps : ($deps);
    }
};

subtest 'no short-form intrinsic tags' => sub {
    open my $fh, '<', $path or die "$path: $!";
    my @tags = grep { /:\s*!\w+/ || /^\s*-\s*!\w+/ } <$fh>;
    is scalar(@tags), 0, 'the template uses Ref, Fn::GetAtt and Fn::Sub, not !Ref' or diag @tags;
};

subtest 'secrets are NoEcho' => sub {
    for my $name (qw(SecretKey MongoUri ResendApiKey)) {
        ok exists $params{$name}, "$name is a parameter";
        is $params{$name}{NoEcho}, 'true', "$name is NoEcho";
    }
    is $params{SecretKey}{MinLength}, 32, 'SecretKey is at least 32 characters';
    ok 'mongodb+srv://u:p@cluster0.example.mongodb.net/kairos' =~ /$params{MongoUri}{AllowedPattern}/,
      'MongoUri pattern accepts an Atlas URI';
    ok 'var/kairos.sqlite' !~ /$params{MongoUri}{AllowedPattern}/, 'MongoUri pattern rejects a SpatiaLite path';
};

subtest 'function' => sub {
    my @fns = of_type('AWS::Lambda::Function');
    is scalar(@fns), 1, 'one function';
    my $p = props($fns[0]);
    is $p->{PackageType}, 'Image', 'from a container image';
    is_deeply $p->{Code}{ImageUri}, { Ref => 'ImageUri' }, 'image from the ImageUri parameter';
    is_deeply $p->{MemorySize}, { Ref => 'MemorySize' }, 'memory from the MemorySize parameter';
    is_deeply $p->{Timeout}, { Ref => 'Timeout' }, 'timeout from the Timeout parameter';
    ok !exists $p->{Handler} && !exists $p->{Runtime}, 'no handler or runtime for an image';
    is $res{ $p->{Role}{'Fn::GetAtt'}[0] }{Type}, 'AWS::IAM::Role', 'runs as the template role';
    my $role = props($p->{Role}{'Fn::GetAtt'}[0]);
    is $role->{AssumeRolePolicyDocument}{Statement}[0]{Principal}{Service}, 'lambda.amazonaws.com',
      'role assumed by Lambda';

    my $env = $p->{Environment}{Variables};
    is_deeply $env->{SECRET_KEY}, { Ref => 'SecretKey' }, 'SECRET_KEY';
    is_deeply $env->{KAIROS_STORAGE}, { Ref => 'MongoUri' }, 'KAIROS_STORAGE from MongoUri';
    is_deeply $env->{RESEND_API_KEY}, { Ref => 'ResendApiKey' }, 'RESEND_API_KEY';
    is_deeply $env->{ENVIRONMENT}, { Ref => 'Environment' }, 'ENVIRONMENT';
    is $env->{KAIROS_LOG_FORMAT}, 'json', 'JSON logs for CloudWatch';
    ok !(grep { $_ eq 'local' } @{ $params{Environment}{AllowedValues} }),
      'ENVIRONMENT cannot be local (no SpatiaLite in Lambda)';
    ok !exists $env->{AWS_LAMBDA_RUNTIME_API}, 'does not set a variable Lambda reserves';
};

subtest 'log group' => sub {
    my @groups = of_type('AWS::Logs::LogGroup');
    is scalar(@groups), 1, 'one log group';
    my $fn = (of_type('AWS::Lambda::Function'))[0];
    my $name = props($groups[0])->{LogGroupName}{'Fn::Sub'};
    is $name, '/aws/lambda/' . props($fn)->{FunctionName}{'Fn::Sub'}, "log group is the function's";
    is_deeply props($groups[0])->{RetentionInDays}, { Ref => 'LogRetentionDays' }, 'retention from a parameter';
    my $deps = $res{$fn}{DependsOn};
    ok((ref $deps ? grep { $_ eq $groups[0] } @$deps : $deps eq $groups[0]), 'function created after its log group');
};

subtest 'HTTP API' => sub {
    my @apis = of_type('AWS::ApiGatewayV2::Api');
    is scalar(@apis), 1, 'one API';
    is props($apis[0])->{ProtocolType}, 'HTTP', 'an HTTP API';
    ok !exists props($apis[0])->{CorsConfiguration}, 'CORS left to Kairos';

    my @integrations = of_type('AWS::ApiGatewayV2::Integration');
    is scalar(@integrations), 1, 'one integration';
    my $ip = props($integrations[0]);
    is $ip->{IntegrationType}, 'AWS_PROXY', 'Lambda proxy integration';
    is $ip->{PayloadFormatVersion}, '2.0', 'payload format 2.0';
    is_deeply $ip->{ApiId}, { Ref => $apis[0] }, 'integration on the API';
    is_deeply $ip->{IntegrationUri}, { 'Fn::GetAtt' => [ (of_type('AWS::Lambda::Function'))[0], 'Arn' ] },
      'integration calls the function';

    my %routes = map { props($_)->{RouteKey} => props($_) } of_type('AWS::ApiGatewayV2::Route');
    is_deeply [ sort keys %routes ], [ 'ANY /', 'ANY /{proxy+}' ], 'routes ANY / and ANY /{proxy+}';
    for my $key (sort keys %routes) {
        is $routes{$key}{Target}{'Fn::Sub'}, "integrations/\${$integrations[0]}", "$key targets the integration";
        is_deeply $routes{$key}{ApiId}, { Ref => $apis[0] }, "$key on the API";
    }

    my @stages = of_type('AWS::ApiGatewayV2::Stage');
    is scalar(@stages), 1, 'one stage';
    is props($stages[0])->{StageName}, '$default', 'the $default stage';
    is props($stages[0])->{AutoDeploy}, 'true', 'deployed automatically';
};

subtest 'permissions' => sub {
    my $fn = (of_type('AWS::Lambda::Function'))[0];
    my %by_principal = map { props($_)->{Principal} => props($_) } of_type('AWS::Lambda::Permission');
    for my $principal (qw(apigateway.amazonaws.com events.amazonaws.com)) {
        my $p = $by_principal{$principal};
        ok $p, "$principal may invoke" or next;
        is $p->{Action}, 'lambda:InvokeFunction', "$principal: invoke action";
        is_deeply $p->{FunctionName}, { Ref => $fn }, "$principal: on the function";
        ok $p->{SourceArn}, "$principal: limited to a source";
    }
    my $api = (of_type('AWS::ApiGatewayV2::Api'))[0];
    like $by_principal{'apigateway.amazonaws.com'}{SourceArn}{'Fn::Sub'} // '', qr/execute-api:.*\$\{\Q$api\E\}/,
      'API permission limited to the API';
};

subtest 'outbox schedule' => sub {
    my @rules = of_type('AWS::Events::Rule');
    is scalar(@rules), 1, 'one rule';
    my $p = props($rules[0]);
    is $p->{ScheduleExpression}, 'rate(5 minutes)', 'every 5 minutes';
    is $p->{State}, 'ENABLED', 'enabled';
    my $target = $p->{Targets}[0];
    is_deeply $target->{Arn}, { 'Fn::GetAtt' => [ (of_type('AWS::Lambda::Function'))[0], 'Arn' ] }, 'targets the function';
    is_deeply decode_json($target->{Input}), { kairos => 'drain-outbox' }, 'input is the drain-outbox job';
    my ($permission) = grep { props($_)->{Principal} eq 'events.amazonaws.com' } of_type('AWS::Lambda::Permission');
    is_deeply props($permission)->{SourceArn}, { 'Fn::GetAtt' => [ $rules[0], 'Arn' ] }, 'permission for this rule';
};

subtest 'outputs' => sub {
    my $api = (of_type('AWS::ApiGatewayV2::Api'))[0];
    is_deeply $t->{Outputs}{ApiEndpoint}{Value}, { 'Fn::GetAtt' => [ $api, 'ApiEndpoint' ] }, 'ApiEndpoint output';
};

done_testing;
